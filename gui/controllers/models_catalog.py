"""The models the service can use, asked of the service's own command line.

`asr-service models --json` lists them and `asr-service models check PATH
--json` judges a CTranslate2 folder; both run as QProcess children (started
from the UI thread, never waited for: their output arrives through
signals), so the tray learns what the service would load without importing
anything of the model stack and with no service running.

Signals:
    listed(list[ModelEntry])         the answer of `models --json`
    list_failed(str)                 a sentence: why there is no list
    checked(FolderCheck)             the answer of `models check PATH --json`

Every child carries the process markers (`tool_environment`): it is a tree
of its own (role "service", a fresh instance) whose parent is the tray, so
that a stuck one is a leftover `asr-service leftovers` finds, while the
tray's Stop sweep (which ends its own instance) leaves a download alone.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QProcessEnvironment, QTimer, Signal

from service.safety import lifeline, markers

# lupdate (packaging/i18n.py) finds the calls written translate("Context", "text").
translate = QCoreApplication.translate

log = logging.getLogger("asr.tray.models")

LIST_TIMEOUT_MS = 30_000    # reading a few config files; joining base once takes seconds
CHECK_TIMEOUT_MS = 30_000



def service_command() -> list[str]:
    """The service's command line, as the tray starts the service itself."""
    return [sys.executable, "-m", "service"]


def tool_environment() -> QProcessEnvironment:
    """The environment of a `python -m service models ...` child: ours, plus
    the markers of a tree of its own whose parent is this process."""
    env = QProcessEnvironment.systemEnvironment()
    env.insert(markers.ROLE, "service")
    env.insert(markers.INSTANCE, markers.new_instance_id())
    env.insert(markers.PARENT_PID, str(os.getpid()))
    env.remove("ASR_TRAY_TOKEN")    # the service's secret is none of its business
    return env


def start_tool(proc: QProcess, argv: list[str]) -> None:
    """Start `argv` in `proc` with the markers; stdin stays open (ReadWrite)
    for the commands that take it as their lifeline."""
    proc.setProgram(argv[0])
    proc.setArguments(argv[1:])
    proc.setProcessEnvironment(tool_environment())
    proc.start()
    pid = proc.processId()
    if pid:
        lifeline.bind_child_to_us(pid)   # Windows: in our kill-on-close job (L0)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    languages: str        # "en" (English only) or "multilingual"
    size_bytes: int | None
    path: str
    current: bool
    source: str = ""      # bundled | offline package | downloaded | folder

    @property
    def english_only(self) -> bool:
        return self.languages == "en"

    @classmethod
    def from_json(cls, item: dict) -> "ModelEntry":
        size = item.get("size_bytes")
        return cls(name=str(item.get("name") or item.get("path") or "?"),
                   languages=str(item.get("languages") or ""),
                   size_bytes=(size if isinstance(size, int) and not isinstance(size, bool)
                               else None),
                   path=str(item.get("path") or ""), current=bool(item.get("current")),
                   source=str(item.get("source") or ""))


@dataclass(frozen=True)
class FolderCheck:
    path: str
    ok: bool
    message: str          # the command's sentence ("" when it gave none and ok)
    details: dict


class ModelsCatalog(QObject):
    listed = Signal(list)
    list_failed = Signal(str)
    checked = Signal(object)     # FolderCheck

    def __init__(self, command: list[str] | None = None, parent: QObject | None = None):
        """`command`: how to run the service's CLI (default `python -m
        service`; tests give a stand-in script)."""
        super().__init__(parent)
        self.command = list(command or service_command())
        self.entries: list[ModelEntry] = []
        self._listing: _Run | None = None
        self._checks: dict[str, _Run] = {}
        self._ended: list[_Run] = []   # finished runs, let go of once their signal is over

    def refresh(self, current: str | None = None) -> bool:
        """Ask for the list; `current`: the model the settings name, so the
        list marks it. False when a listing is under way already."""
        if self._listing is not None:
            return False
        args = ["models", "--json"] + (["--current", current] if current else [])
        self._listing = _Run(self.command + args, LIST_TIMEOUT_MS, self._on_listed)
        self._listing.start()
        return True

    def check(self, path: str) -> bool:
        """Judge a folder; the answer comes as `checked`. False when that
        folder is being checked already."""
        if path in self._checks:
            return False
        run = _Run(self.command + ["models", "check", path, "--json"],
                   CHECK_TIMEOUT_MS, lambda *a: self._on_checked(path, *a))
        self._checks[path] = run
        run.start()
        return True

    def busy(self) -> bool:
        return self._listing is not None or bool(self._checks)

    def _let_go(self, run: "_Run | None") -> None:
        """A run has reported: keep it until the QProcess's own signal is
        over (deleting a QProcess inside its signal is not allowed), then drop it."""
        if run is None:
            return
        self._ended.append(run)
        QTimer.singleShot(0, self, lambda: self._ended.remove(run) if run in self._ended else None)

    def _on_listed(self, code: int | None, out: bytes, why: str) -> None:
        self._let_go(self._listing)
        self._listing = None
        if why:
            self.list_failed.emit(self.tr("The list of models could not be read: {0}").format(why))
            return
        try:
            data = json.loads(out)
            if not isinstance(data, list):
                raise ValueError("not a list")
            entries = [ModelEntry.from_json(item) for item in data if isinstance(item, dict)]
        except ValueError:
            log.warning("models --json gave %r (exit code %s)", out[:300], code)
            self.list_failed.emit(self.tr(
                "The list of models could not be read: the service's models command answered "
                "something else than a list (exit code {0}). See the tray's log for what it "
                "said.").format(code))
            return
        self.entries = entries
        self.listed.emit(entries)

    def _on_checked(self, path: str, code: int | None, out: bytes, why: str) -> None:
        self._let_go(self._checks.pop(path, None))
        if why:
            self.checked.emit(FolderCheck(path, False, self.tr(
                "The folder {0} could not be checked: {1}").format(path, why), {}))
            return
        try:
            data = json.loads(out)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            log.warning("models check gave %r (exit code %s)", out[:300], code)
            data = {}
        ok = bool(data["ok"]) if "ok" in data else code == 0
        message = str(data.get("message") or data.get("error") or data.get("problem") or "")
        if not ok and not message:
            message = self.tr("The folder {0} is not a model ASR Tray can use "
                              "(the check gave no reason).").format(path)
        self.checked.emit(FolderCheck(path, ok, message, data))


class _Run(QObject):
    """One short command: collects stdout, reports (exit code, stdout, why
    it failed or "") once, ends it if it outlasts its timeout. Owned by
    Python (no Qt parent): the catalog holds it while it runs; a catalog
    that goes away with a run under way takes it along (Qt then kills it)."""

    def __init__(self, argv: list[str], timeout_ms: int, done):
        super().__init__()
        self._done = done
        self._out = b""
        self._err = b""
        self._reported = False
        self._timed_out = False
        self.proc = QProcess(self)
        self.proc.readyReadStandardOutput.connect(self._read)
        self.proc.readyReadStandardError.connect(self._read_err)
        self.proc.finished.connect(self._finished)
        self.proc.errorOccurred.connect(self._error)
        self._timer = QTimer(self, singleShot=True, interval=timeout_ms)
        self._timer.timeout.connect(self._timeout)
        self._argv = argv

    def start(self) -> "_Run":
        """Separate from __init__: a program that cannot start reports at
        once, and the owner must hold this run before that happens."""
        log.info("running %s", " ".join(self._argv))
        self._timer.start()
        start_tool(self.proc, self._argv)
        self.proc.closeWriteChannel()   # these commands read nothing
        return self

    def _read(self) -> None:
        self._out += bytes(self.proc.readAllStandardOutput())

    def _read_err(self) -> None:
        self._err = (self._err + bytes(self.proc.readAllStandardError()))[-4000:]

    def _last_error_line(self) -> str:
        lines = [l.strip() for l in self._err.decode("utf-8", "replace").splitlines() if l.strip()]
        return lines[-1] if lines else ""

    def _report(self, code, why: str) -> None:
        if self._reported:
            return
        self._reported = True
        self._timer.stop()
        self._done(code, self._out, why)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read()
        self._read_err()
        if self._timed_out:
            text = translate("ModelsCatalog", "the command did not answer within {0} s.")
            self._report(None, text.format(self._timer.interval() // 1000))
        elif status != QProcess.ExitStatus.NormalExit:
            text = translate("ModelsCatalog", "the command {0} stopped abnormally.")
            self._report(code, text.format(self._argv[0]))
        elif not self._out.strip() and code != 0:
            said = self._last_error_line() or translate("ModelsCatalog", "no message")
            text = translate("ModelsCatalog", "the command ended with exit code {0} ({1}).")
            self._report(code, text.format(code, said))
        else:
            self._report(code, "")

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            text = translate("ModelsCatalog", "{0} could not be started. Reinstall the app, "
                                              "then try again.")
            self._report(None, text.format(self._argv[0]))

    def _timeout(self) -> None:
        log.warning("%s did not answer within %d ms: ending it", " ".join(self._argv),
                    self._timer.interval())
        self._timed_out = True
        self.proc.kill()   # finished follows at once, and reports
