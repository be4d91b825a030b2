"""The one cleanup path. Menu Quit, aboutToQuit, session end, SIGTERM/SIGINT
(and closing the fallback window) all call `begin()`; it runs once.

    begin ─> note the service's resource tracker by identity (its registry record,
             which a clean stop removes), then stop the service (lifeline closed →
             SIGTERM at 1.0 s → SIGKILL at 1.5 s)
          ─> sweep our instance by markers + registry in a thread (L4), kill survivors
          ─> report: one log line, `quit cleanup after S s: SENTENCE` (other tools
             read it); a notification only when a process really had to be killed
          ─> done(report): the app quits

Nothing here waits on the UI thread: the service stop runs on QTimers and the
sweep in a thread. A watchdog thread holds the bound: HARD_DEADLINE_S after
begin() it kills what is left and ends the process, whatever hangs.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from PySide6.QtCore import QObject, QTimer, Signal

from gui.controllers.service_process import ServiceProcess
from gui.controllers.sweep import HELPER_GRACE_S, SweepReport, known_helpers, sweep

log = logging.getLogger("asr.tray.quit")

HARD_DEADLINE_S = 2.6     # the app must be gone within 3 s
NOTICE_LINGER_MS = 700    # let a "had to kill" notification be seen before the icon goes
SWEEP_RESERVE_S = 1.0     # of the deadline, kept for the kill, its wait and the notice


class QuitSequence(QObject):
    done = Signal(object)          # SweepReport
    _swept = Signal(object)        # from the sweep thread

    def __init__(self, service: ServiceProcess, instance: str, notify=None,
                 hard_deadline_s: float = HARD_DEADLINE_S, exit_hard=os._exit,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.service = service
        self.instance = instance
        self.notify = notify            # callable(title, message) or None
        self.hard_deadline_s = hard_deadline_s
        self._exit_hard = exit_hard
        self.started_at: float | None = None
        self.reason: str | None = None
        self.report: SweepReport | None = None
        self._finished = threading.Event()
        self._sweep_started = False
        self._helpers: set = set()
        self._swept.connect(self._on_swept)
        service.stopped.connect(self._on_service_stopped)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def begin(self, reason: str) -> None:
        if self.started_at is not None:
            log.info("quit requested again (%s): already quitting", reason)
            return
        self.started_at = time.monotonic()
        self.reason = reason
        log.info("quitting: %s", reason)
        threading.Thread(target=self._watchdog, name="quit-watchdog", daemon=True).start()
        try:
            # A few small files, read before the stop is asked for: after it,
            # a clean stop may already have removed the tracker's record.
            self._helpers = known_helpers(self.instance) if self.instance else set()
        except OSError as exc:
            log.warning("could not read the registry before stopping: %s", exc)
        if not self.service.stop():
            self._sweep_in_thread()

    def _on_service_stopped(self) -> None:
        if self.started_at is not None:
            self._sweep_in_thread()

    def _sweep_in_thread(self) -> None:
        if self._sweep_started:
            return
        self._sweep_started = True
        # The tracker's grace, within what the deadline leaves.
        left = self.hard_deadline_s - (time.monotonic() - self.started_at) - SWEEP_RESERVE_S
        helper_grace = max(0.2, min(HELPER_GRACE_S, left))
        helpers = set(self._helpers)
        threading.Thread(target=lambda: self._swept.emit(
            sweep(self.instance, helpers=helpers, helper_grace=helper_grace)),
            name="quit-sweep", daemon=True).start()

    def _on_swept(self, report: SweepReport) -> None:
        self.report = report
        log.info("quit cleanup after %.2f s: %s", time.monotonic() - self.started_at,
                 report.sentence())
        linger = 0
        if report.worth_telling:
            if self.notify is not None:
                self.notify(self.tr("ASR Tray: processes had to be ended"),
                            report.shown_sentence())
            left_ms = int((self.hard_deadline_s - 0.3 - (time.monotonic() - self.started_at)) * 1000)
            linger = max(0, min(NOTICE_LINGER_MS, left_ms))
        QTimer.singleShot(linger, self._finish)

    def mark_finished(self) -> None:
        """The cleanup was done elsewhere (teardown): stand the watchdog down."""
        self._finished.set()

    def _finish(self) -> None:
        self._finished.set()
        self.done.emit(self.report)

    def _watchdog(self) -> None:
        if self._finished.wait(self.hard_deadline_s):
            return
        log.error("quit did not finish within %.1f s: killing what is left and exiting now",
                  self.hard_deadline_s)
        pid = self.service.pid
        if pid:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        try:
            sweep(self.instance, grace=0, timeout=0.2, helpers=set(self._helpers))
        finally:
            logging.shutdown()
            self._exit_hard(1)
