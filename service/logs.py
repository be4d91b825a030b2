"""Logging for our processes: stderr, plus one rotating file per process role
(service.log, worker.log, tray.log) in the log folder the tray's "Open log
folder" shows. Every line names the role and the pid (service[1234]), so the
lines of two processes, or of a worker and its successor, stay apart.

Every line is safe to keep (`SafeFormatter`): control characters in a message
are escaped, so a job_id holding "\\n" cannot forge a line of its own, and the
token never reaches the log (`redact`: ?token=, Bearer, --token, and the
service's own token by value). The log files are private to the user (0600,
in a 0700 folder: service/safety/registry.py).

`setup()` may run twice in one process (a re-executed service, a test that
builds two apps): it replaces the handlers it added before instead of adding
more, so no line is written twice.
"""
from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys

from service.safety import registry

ROLES = ("service", "worker", "tray")
MAX_BYTES = 2 * 2**20
BACKUPS = 3
FILE_MODE = 0o600

# Handlers this module added, by the attribute it sets on them: the root
# logger may also hold handlers of others (pytest's, a host program's).
_OURS = "_asr_tray_handler"

HIDDEN = "***"
# Where a secret sits in a text: a query or form value (token=..., access_token=...),
# an Authorization header's credentials, a --token argument.
_SECRET_PATTERNS = (
    (re.compile(r"(token=)[^&\s\"'#]+", re.IGNORECASE), r"\1" + HIDDEN),
    (re.compile(r"(\bbearer\s+)[^\s\"',]+", re.IGNORECASE), r"\1" + HIDDEN),
    (re.compile(r"(--token[\s=]+)[^\s\"',]+"), r"\1" + HIDDEN),
)
_secrets: set[str] = set()   # values known to be secret (the service's token)

# C0 controls, DEL and the C1 controls, and the Unicode line/paragraph
# separators: anything a terminal or a log reader may take for a new line.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def add_secret(value: str | None) -> None:
    """From now on, `value` is written as *** wherever it would be logged."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    for value in _secrets:
        if value in text:
            text = text.replace(value, HIDDEN)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_argv(argv: list[str]) -> list[str]:
    """argv with the value of --token (or --token=...) hidden: for the registry."""
    out, hide_next = [], False
    for arg in argv:
        if hide_next:
            out.append(HIDDEN)
            hide_next = False
        elif arg == "--token":
            out.append(arg)
            hide_next = True
        elif arg.startswith("--token="):
            out.append("--token=" + HIDDEN)
        else:
            out.append(arg)
    return out


def escape_controls(text: str) -> str:
    r"""'\n' -> '\\n', other control characters -> '\\xNN' / '\\uNNNN'."""
    if not _CONTROLS.search(text):
        return text

    def one(m: re.Match) -> str:
        ch = m.group()
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
        if named:
            return named
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"
    return _CONTROLS.sub(one, text)


class SafeFormatter(logging.Formatter):
    """Escapes control characters in the message (a traceback keeps its own
    line breaks: it is ours, and readable only so) and redacts secrets in
    everything written, traceback included."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        plain = record.message
        record.message = escape_controls(plain)
        try:
            return super().formatMessage(record)
        finally:
            record.message = plain

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens (and reopens after a rotation) its file as 0600: a log may name
    what was transcribed, so it is no other user's to read."""

    def _open(self):
        def private(path, flags):
            fd = os.open(path, flags, FILE_MODE)
            if os.name != "nt":
                os.fchmod(fd, FILE_MODE)  # a file an older version left 0644
            return fd
        return open(self.baseFilename, self.mode, encoding=self.encoding,
                    errors=self.errors, opener=private)


def setup(label: str, level: str | int = "INFO", file_name: str | None = None) -> None:
    """`label` is the process role (one of ROLES); it names the process in
    every line and, unless `file_name` is given, the log file (label.log)."""
    fmt = SafeFormatter(f"%(asctime)s {label}[%(process)d] %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    err = logging.StreamHandler(sys.stderr)
    _add(root, err, fmt)
    try:
        fh = _PrivateRotatingFileHandler(registry.log_dir() / (file_name or f"{label}.log"),
                                         maxBytes=MAX_BYTES, backupCount=BACKUPS)
    except OSError:
        return  # a read-only profile must not stop the app; stderr still has it
    _add(root, fh, fmt)


def _add(root: logging.Logger, handler: logging.Handler, fmt: logging.Formatter) -> None:
    handler.setFormatter(fmt)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
