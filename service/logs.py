"""Logging for our processes: stderr, plus one rotating file per process role
(service.log, worker.log, tray.log) in the log folder the tray's "Open log
folder" shows. Every line names the role and the pid (service[1234]), so the
lines of two processes, or of a worker and its successor, stay apart.

`setup()` may run twice in one process (a re-executed service, a test that
builds two apps): it replaces the handlers it added before instead of adding
more, so no line is written twice.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys

from service.safety import registry

ROLES = ("service", "worker", "tray")
MAX_BYTES = 2 * 2**20
BACKUPS = 3

# Handlers this module added, by the attribute it sets on them: the root
# logger may also hold handlers of others (pytest's, a host program's).
_OURS = "_asr_tray_handler"


def setup(label: str, level: str | int = "INFO", file_name: str | None = None) -> None:
    """`label` is the process role (one of ROLES); it names the process in
    every line and, unless `file_name` is given, the log file (label.log)."""
    fmt = logging.Formatter(f"%(asctime)s {label}[%(process)d] %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    err = logging.StreamHandler(sys.stderr)
    _add(root, err, fmt)
    try:
        fh = logging.handlers.RotatingFileHandler(registry.log_dir() / (file_name or f"{label}.log"),
                                                  maxBytes=MAX_BYTES, backupCount=BACKUPS)
    except OSError:
        return  # a read-only profile must not stop the app; stderr still has it
    _add(root, fh, fmt)


def _add(root: logging.Logger, handler: logging.Handler, fmt: logging.Formatter) -> None:
    handler.setFormatter(fmt)
    setattr(handler, _OURS, True)
    root.addHandler(handler)
