r"""The ASR service as the tray's child, and the state machine around it.

    stopped --start--> starting --ready line--> running
       ^                  |  \--error line / exit / timeout--> error
       |                  v                                     |
       +-- exited ---- stopping <--stop-- running / starting    |
       +----------------------------- start --------------------+

Why QProcess: it forks from the thread that calls start(), and this object
lives in the main thread, so the service's PR_SET_PDEATHSIG is tied to a
thread that lives as long as the tray (DESIGN.md L0). Its signals deliver the
ready line and the exit without ever blocking the event loop.

The service's stdin is a pipe we keep open for the child's whole life: it is
the service's L1 lifeline (`--lifeline-stdin`), so closing our end is how we
ask it to stop, and the kernel closes it for us if the tray dies.

Its stderr (and its worker's) only feeds a bounded in-memory tail
(stderr_tail): the service and the worker keep their own rotating logs in
the log folder (LOG_FILES), which is where every error sentence points.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from enum import Enum

from PySide6.QtCore import QIODevice, QObject, QProcess, QProcessEnvironment, QTimer, QUrl, Signal

from gui.controllers.stderr_tail import LineTail
from service.safety import lifeline, markers, registry

log = logging.getLogger("asr.tray.service")

READY_TIMEOUT_S = 180.0      # a model download on first use can take a while
STOP_TERMINATE_AFTER_MS = 1000   # lifeline closed, then SIGTERM ...
STOP_KILL_AFTER_MS = 1500        # ... then SIGKILL (the worker follows by L0)
TOKEN_ENV = "ASR_TRAY_TOKEN"
PORT_SEARCH = 20             # the fixed port taken: try this many after it
LOG_FILES = ("service.log", "worker.log")   # written by the service and its worker


class State(str, Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    ERROR = "error"


class ServiceProcess(QObject):
    state_changed = Signal(str)
    failed = Signal(str)        # a sentence for the user: what failed, why, what to do
    model_failed = Signal(str)  # the same, when the model could not be loaded
    stopped = Signal()          # the process is gone (after stop(), or after an error)

    def __init__(self, model: str | None = None, device: str | None = None,
                 ready_timeout_s: float = READY_TIMEOUT_S, parent: QObject | None = None,
                 compute_type: str | None = None, port: int = 0):
        super().__init__(parent)
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.port = port      # asked for; 0: any free one. Taken: the next free (PORT_SEARCH)
        self.state = State.STOPPED
        self.url: str | None = None
        self.pid: int | None = None
        self.worker_pid: int | None = None
        self.error: str | None = None
        self.token: str | None = None
        self.log_dir = registry.log_dir()
        self.stderr_tail = LineTail()
        self._proc: QProcess | None = None
        self._stdout = b""
        self._restart_after_stop = False
        self._error_after_stop: str | None = None
        self._ready_timer = QTimer(self, singleShot=True)
        self._ready_timer.setInterval(int(ready_timeout_s * 1000))
        self._ready_timer.timeout.connect(self._on_ready_timeout)
        self._terminate_timer = QTimer(self, singleShot=True)
        self._terminate_timer.setInterval(STOP_TERMINATE_AFTER_MS)
        self._terminate_timer.timeout.connect(self._escalate_terminate)
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.setInterval(STOP_KILL_AFTER_MS)
        self._kill_timer.timeout.connect(self._escalate_kill)

    # ------------------------------------------------------------ commands
    def command(self) -> list[str]:
        args = [sys.executable, "-m", "service", "serve", "--port", str(self.port),
                "--lifeline-stdin"]
        if self.port:
            args += ["--port-search", str(PORT_SEARCH)]
        if self.model:
            args += ["--model", self.model]
        if self.device:
            args += ["--device", self.device]
        if self.compute_type:
            args += ["--compute-type", self.compute_type]
        return args

    def configure(self, model: str | None, device: str | None, compute_type: str | None,
                  port: int) -> None:
        """What the next start uses (a running service keeps its own until restarted)."""
        self.model, self.device, self.compute_type, self.port = model, device, compute_type, port

    def port_note(self) -> str | None:
        """A sentence when the fixed port was taken and another one is in use."""
        if not self.url or not self.port:
            return None
        got = QUrl(self.url).port()
        if got in (-1, self.port):
            return None
        return self.tr("Port {asked} was in use by another program, so the service listens on "
                       "{got}.").format(asked=self.port, got=got)

    def environment(self) -> QProcessEnvironment:
        env = QProcessEnvironment.systemEnvironment()
        env.insert(markers.ROLE, "service")
        env.insert(markers.INSTANCE, markers.current_instance() or "")
        env.insert(markers.PARENT_PID, str(os.getpid()))
        # The token travels in the environment, not on the command line: any
        # local user can read a command line, only we can read our children's env.
        env.insert(TOKEN_ENV, self.token or "")
        return env

    def start(self) -> bool:
        """Start the service unless one is already ours. Returns False when not started."""
        if self.state in (State.STARTING, State.RUNNING):
            return False
        if self.state == State.STOPPING:
            self._restart_after_stop = True  # the old one must be gone first: never two
            return True
        self.url = self.pid = self.worker_pid = self.error = None
        self._error_after_stop = None
        self._stdout = b""
        self.stderr_tail.clear()
        self.token = secrets.token_urlsafe(24)
        proc = QProcess(self)
        cmd = self.command()
        proc.setProgram(cmd[0])
        proc.setArguments(cmd[1:])
        proc.setProcessEnvironment(self.environment())
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self._proc = proc
        self._set_state(State.STARTING)
        log.info("starting the service: %s", " ".join(cmd))
        proc.start(QIODevice.OpenModeFlag.ReadWrite)  # stdin stays open: the lifeline
        pid = proc.processId()
        if pid:
            self.pid = pid
            lifeline.bind_child_to_us(pid)  # Windows: kill-on-close job (L0)
        self._ready_timer.start()
        return True

    def stop(self) -> bool:
        """Ask the service to stop, escalating on timers. Returns True when
        there was something to stop (then `stopped` follows)."""
        self._restart_after_stop = False
        if self._proc is None or self._proc.state() == QProcess.ProcessState.NotRunning:
            if self.state not in (State.STOPPED, State.ERROR):
                self._set_state(State.STOPPED)
            return False
        if self.state != State.STOPPING:
            self._set_state(State.STOPPING)
            self._ready_timer.stop()
            log.info("stopping the service (pid %s): closing its stdin lifeline", self.pid)
            self._proc.closeWriteChannel()
            self._terminate_timer.start()
            self._kill_timer.start()
        return True

    def restart(self) -> None:
        if self.stop():
            self._restart_after_stop = True
        else:
            self.start()

    def stop_blocking(self, grace_ms: int = 800, kill_wait_ms: int = 500) -> None:
        """For teardown only, when the event loop is already gone: close the
        lifeline, wait `grace_ms`, then SIGKILL and wait `kill_wait_ms`."""
        proc = self._proc
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            return
        self._set_state(State.STOPPING)
        proc.closeWriteChannel()
        if not proc.waitForFinished(grace_ms):
            proc.kill()
            proc.waitForFinished(kill_wait_ms)

    def is_alive(self) -> bool:
        return self._proc is not None and self._proc.state() != QProcess.ProcessState.NotRunning

    # ------------------------------------------------------------ events
    def _set_state(self, state: State) -> None:
        if state != self.state:
            log.info("service state: %s -> %s", self.state.value, state.value)
            self.state = state
            self.state_changed.emit(state.value)

    def _on_stdout(self) -> None:
        if self._proc is None:
            return
        self._stdout += bytes(self._proc.readAllStandardOutput())
        while b"\n" in self._stdout:
            line, self._stdout = self._stdout.split(b"\n", 1)
            if line.strip():
                self._on_event_line(line)

    def _on_stderr(self) -> None:
        if self._proc is not None:
            self.stderr_tail.feed(bytes(self._proc.readAllStandardError()))

    def logs_text(self) -> str:
        """Where to look, for the error sentences."""
        return self.tr("{first} and {second} in {folder}").format(
            first=LOG_FILES[0], second=LOG_FILES[1], folder=self.log_dir)

    def _on_event_line(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            log.warning("unexpected line on the service's stdout: %r", line[:200])
            return
        if event.get("event") == "ready" and self.state == State.STARTING:
            self._ready_timer.stop()
            self.url = event.get("url")
            self.pid = event.get("pid") or self.pid
            self.worker_pid = event.get("worker_pid")
            self._set_state(State.RUNNING)
        elif event.get("event") == "error":
            # the service's own sentence, as it comes (see docs/i18n.md)
            reason = event.get("message") or self.tr("no reason given")
            if event.get("code") == "load_failed":
                self.model_failed.emit(reason)
            self._fail(self.tr("The ASR service could not start: {reason}").format(reason=reason))

    def _on_ready_timeout(self) -> None:
        self._fail(self.tr("The ASR service did not become ready within {s} s (loading the model "
                           "may have hung). See {logs} for details, then use Start to try again."
                           ).format(s=self._ready_timer.interval() // 1000, logs=self.logs_text()))

    def _fail(self, message: str) -> None:
        """An error while the process may still run: stop it, end in ERROR."""
        log.error("%s", message)
        self._error_after_stop = message
        if not self.stop():
            self._enter_error(message)

    def _enter_error(self, message: str) -> None:
        self.error = message
        self.url = None
        self._set_state(State.ERROR)
        self.failed.emit(message)

    def _on_process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._ready_timer.stop()
            self._proc = None
            self._enter_error(self.tr("The ASR service could not be started ({command}): the "
                                      "program did not run. Reinstall the app, then use Start."
                                      ).format(command=f"{sys.executable} -m service"))
            self.stopped.emit()

    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        for t in (self._ready_timer, self._terminate_timer, self._kill_timer):
            t.stop()
        was = self.state
        if self._proc is not None:
            self.stderr_tail.feed(bytes(self._proc.readAllStandardError()))
        self.stderr_tail.finish()
        self._proc = None
        self.url = self.worker_pid = None
        log.info("service exited (code %s, %s) while %s", code, status.name, was.value)
        unexpected = was in (State.STARTING, State.RUNNING) and not self._error_after_stop
        if (self._error_after_stop or unexpected) and self.stderr_tail.lines():
            # into the tray's own (rotating) log: the service's stderr is kept nowhere else
            log.error("the service's last lines on stderr:\n%s", "\n".join(self.stderr_tail.lines()))
        if self._error_after_stop:
            self._enter_error(self._error_after_stop)
        elif was == State.STOPPING:
            self._set_state(State.STOPPED)
        elif unexpected:
            last = self.stderr_tail.last() if status == QProcess.ExitStatus.NormalExit else None
            if last:
                text = self.tr('The ASR service stopped unexpectedly (exit code {code}). Its last '
                               'message: "{last}". Its logs are {logs}; use Start to run it again.')
            else:
                text = self.tr("The ASR service stopped unexpectedly (exit code {code}). Its logs "
                               "are {logs}; use Start to run it again.")
            self._enter_error(text.format(code=code, last=last, logs=self.logs_text()))
        self.pid = None
        self.stopped.emit()
        if self._restart_after_stop:
            self._restart_after_stop = False
            self.start()

    def _escalate_terminate(self) -> None:
        if self._proc is not None:
            log.warning("the service did not stop within %d ms: sending it SIGTERM",
                        STOP_TERMINATE_AFTER_MS)
            self._proc.terminate()

    def _escalate_kill(self) -> None:
        if self._proc is not None:
            log.warning("the service did not stop within %d ms: killing it", STOP_KILL_AFTER_MS)
            self._proc.kill()
