"""One model download, run by the service's own command in a child process:
`python -m service models download NAME --json --lifeline-stdin`.

The child prints one JSON object per line, turned here into signals:
    {"event": "progress", "file", "bytes", "total", "speed", "eta"} -> progress(DownloadProgress)
    {"event": "done", "name", "path"}                                -> done(name, path)
    {"event": "error", "message"}                                    -> failed(sentence)
and `cancelled()` once a cancel() has ended it. `running_changed(bool)`
follows the child's life.

Its stdin is a pipe kept open for its whole life: the command's lifeline.
cancel() closes it (the command stops, keeping what it fetched so that the
next download of that name resumes) and kills the child if it has not gone
after CANCEL_GRACE_MS (a QTimer: nothing here waits). If the tray dies, the
kernel closes the pipe and the child ends the same way.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, QProcess, QTimer, Signal

from gui.controllers.models_catalog import service_command, start_tool

# lupdate (packaging/i18n.py) finds the calls written translate("Context", "text").
translate = QCoreApplication.translate

log = logging.getLogger("asr.tray.download")

# The command itself gives up 2 s after its stdin closed (service/models/commands.py
# CANCEL_DEADLINE): this is the backstop if it does not.
CANCEL_GRACE_MS = 3000



@dataclass(frozen=True)
class DownloadProgress:
    file: str
    bytes: int
    total: int | None          # None: the size is not known (yet)
    speed: float | None        # bytes per second
    eta: float | None          # seconds left

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.bytes / self.total) if self.total else None

    @classmethod
    def from_event(cls, event: dict) -> "DownloadProgress":
        def number(key):
            v = event.get(key)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 else None
        return cls(file=str(event.get("file") or ""), bytes=int(number("bytes") or 0),
                   total=int(number("total")) if number("total") else None,
                   speed=number("speed"), eta=number("eta"))


class ModelDownload(QObject):
    progress = Signal(object)       # DownloadProgress
    done = Signal(str, str)         # name, path
    failed = Signal(str)            # a sentence: what failed, why, what to do
    cancelled = Signal()
    running_changed = Signal(bool)

    def __init__(self, command: list[str] | None = None, grace_ms: int = CANCEL_GRACE_MS,
                 parent: QObject | None = None):
        """`command`: how to run the service's CLI (default `python -m
        service`; tests give a stand-in script)."""
        super().__init__(parent)
        self.command = list(command or service_command())
        self.name: str | None = None
        self.pid: int | None = None
        self.last: DownloadProgress | None = None
        self._proc: QProcess | None = None
        self._ended: QProcess | None = None   # the last child, kept until its signal is over
        self._buffer = b""
        self._err = b""
        self._outcome: str | None = None     # "done" | "error" once the child said so
        self._cancelling = False
        self._kill_timer = QTimer(self, singleShot=True, interval=grace_ms)
        self._kill_timer.timeout.connect(self._kill)

    def is_running(self) -> bool:
        return self._proc is not None

    def start(self, name: str) -> bool:
        """Start downloading `name` (a faster-whisper model name). False when
        a download is running already (one at a time)."""
        if self._proc is not None:
            return False
        self.name, self.last, self.pid = name, None, None
        self._buffer, self._err, self._outcome, self._cancelling = b"", b"", None, False
        # Owned by Python, not parented: deleting a QProcess inside its own
        # finished signal (or deleteLater on it) is what Qt does not allow.
        proc = QProcess()
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_error)
        self._proc = proc
        argv = self.command + ["models", "download", name, "--json", "--lifeline-stdin"]
        log.info("downloading %s: %s", name, " ".join(argv))
        self.running_changed.emit(True)
        start_tool(proc, argv)   # stdin stays open: the lifeline
        if self._proc is proc:
            self.pid = proc.processId() or None
        return True

    def cancel(self) -> bool:
        """Stop the download (it resumes next time). False when none runs."""
        if self._proc is None:
            return False
        if not self._cancelling:
            self._cancelling = True
            log.info("cancelling the download of %s (pid %s): closing its stdin", self.name,
                     self.pid)
            self._proc.closeWriteChannel()
            self._kill_timer.start()
        return True

    # ------------------------------------------------------------ child events
    def _on_stdout(self) -> None:
        if self._proc is None:
            return
        self._buffer += bytes(self._proc.readAllStandardOutput())
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            if line.strip():
                self._on_line(line)

    def _on_stderr(self) -> None:
        if self._proc is not None:
            self._err = (self._err + bytes(self._proc.readAllStandardError()))[-4000:]

    def _on_line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            log.warning("unexpected line from the download: %r", line[:200])
            return
        if not isinstance(event, dict):
            return
        kind = event.get("event")
        if kind == "progress":
            self.last = DownloadProgress.from_event(event)
            self.progress.emit(self.last)
        elif kind == "done" and self._outcome is None:
            self._outcome = "done"
            self.done.emit(str(event.get("name") or self.name), str(event.get("path") or ""))
        elif kind == "error" and (event.get("cancelled") or self._cancelling):
            self._cancelling = True   # "cancelled" is said once the child has ended
        elif kind == "error" and self._outcome is None:
            self._outcome = "error"
            text = translate("ModelDownload", "The download of {0} failed and gave no reason.")
            self.failed.emit(str(event.get("message") or text.format(self.name)))

    def _last_error_line(self) -> str:
        lines = [l.strip() for l in self._err.decode("utf-8", "replace").splitlines() if l.strip()]
        return lines[-1] if lines else ""

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._on_stdout()
        if self._buffer.strip():
            self._on_line(self._buffer)
            self._buffer = b""
        self._on_stderr()
        self._kill_timer.stop()
        self._let_go()
        log.info("the download of %s ended (exit code %s, %s)", self.name, code, status.name)
        if self._outcome is None:
            if self._cancelling:
                self.cancelled.emit()
            else:
                last = self._last_error_line()
                said = last or translate("ModelDownload", "no message")
                text = translate("ModelDownload", "The download of {0} stopped unexpectedly "
                                                  "(exit code {1}: {2}). Download it again to "
                                                  "resume where it stopped.")
                self.failed.emit(text.format(self.name, code, said))
        self.running_changed.emit(False)

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error != QProcess.ProcessError.FailedToStart or self._proc is None:
            return
        self._let_go()
        text = translate("ModelDownload", "The download could not be started: {0} did not run. "
                                          "Reinstall the app, then try again.")
        self.failed.emit(text.format(self.command[0]))
        self.running_changed.emit(False)

    def _let_go(self) -> None:
        """The child has ended: drop our QProcess once its signal is over."""
        self._ended, self._proc = self._proc, None
        QTimer.singleShot(0, self, self._drop_ended)

    def _drop_ended(self) -> None:
        if self._proc is not self._ended:
            self._ended = None

    def _kill(self) -> None:
        if self._proc is not None:
            log.warning("the download of %s did not stop within %d ms: killing it", self.name,
                        self._kill_timer.interval())
            self._proc.kill()
