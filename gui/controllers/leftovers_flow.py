""""Kill leftover workers": scan → ask → kill → report, as signals.

scan() and kill() come from service.safety.leftovers (the same logic as
`asr-service leftovers --kill`) and read /proc for every process, so both run
in a thread; results come back through queued signals. Our own tree is never
a candidate (scan() excludes our ASR_TRAY_INSTANCE). The scan is machine-wide
for the current user: a leftover is found whatever runtime directory it used.
Only under test hooks (ASR_TRAY_TEST_HOOKS=1) may SCOPE_ENV narrow it to one
runtime directory, so that a test's tray never sees, let alone ends, the
processes of tests running beside it.

The flow shows nothing itself: `ask` hands the scan to whoever shows the
question (the tray shows gui.widgets.leftovers_dialog), who answers with
`end(scan)` or `keep()`; `finished` carries the sentence to show afterwards.
"""
from __future__ import annotations

import logging
import os
import threading

from PySide6.QtCore import QObject, Signal

from gui.controllers import test_hooks
from service.safety import leftovers

log = logging.getLogger("asr.tray.leftovers")

SCOPE_ENV = "ASR_TRAY_TEST_LEFTOVERS_RUNTIME_DIR"


def default_scan() -> leftovers.Scan:
    """leftovers.scan(), machine-wide; narrowed only by a test's explicit scope."""
    scope = os.environ.get(SCOPE_ENV) if test_hooks.enabled() else None
    return leftovers.scan(runtime_dir=scope or None)


class LeftoversFlow(QObject):
    found_at_startup = Signal(int)      # how many leftovers the start-up scan saw
    ask = Signal(object)                # Scan with leftovers: ask the user, answer end()/keep()
    ask_again = Signal()                # run() while the question is open: bring it forward
    finished = Signal(str)              # the report sentence after a kill (or "none found")
    busy_changed = Signal(bool)
    _scanned = Signal(object, bool)     # (Scan, interactive) from the scan thread
    _killed = Signal(object)            # KillReport from the kill thread

    def __init__(self, scan_fn=None, kill_fn=None, parent: QObject | None = None):
        super().__init__(parent)
        self._scan_fn = scan_fn or default_scan
        self._kill_fn = kill_fn or leftovers.kill
        self.busy = False
        self.asking = False                 # a question is out, no answer yet
        self.last_report: str | None = None
        self._scanned.connect(self._on_scanned)
        self._killed.connect(self._on_killed)

    def _set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)

    def _in_thread(self, fn, name: str) -> None:
        threading.Thread(target=fn, name=name, daemon=True).start()

    def scan_at_startup(self) -> None:
        """Report only: never kills without the user asking."""
        self._in_thread(lambda: self._scanned.emit(self._safe_scan(), False), "leftovers-scan")

    def run(self) -> None:
        """The menu item: scan, then ask about what was found."""
        if self.busy:
            if self.asking:
                self.ask_again.emit()
            return
        self._set_busy(True)
        self._in_thread(lambda: self._scanned.emit(self._safe_scan(), True), "leftovers-scan")

    def end(self, scan: leftovers.Scan) -> None:
        """The user's answer: end the leftovers of `scan` (the one `ask` carried)."""
        self.asking = False
        log.info("ending %d leftover(s) at the user's request", len(scan.leftovers))
        self._kill_in_thread(scan)

    def keep(self) -> None:
        """The user's answer: leave them running."""
        self.asking = False
        self._set_busy(False)

    def _safe_scan(self):
        try:
            return self._scan_fn()
        except Exception as exc:
            log.exception("leftover scan failed")
            return exc

    def _on_scanned(self, scan, interactive: bool) -> None:
        if isinstance(scan, Exception):
            if interactive:
                self._set_busy(False)
                self._report(self.tr("Could not look for leftover workers: {error}. Try again, or "
                                     "run 'asr-service leftovers' in a terminal to see the "
                                     "details.").format(error=scan))
            return
        n = len(scan.leftovers)
        log.info("leftover scan: %d leftover(s): %s", n,
                 ", ".join(f"{l.role} pid {l.pid}" for l in scan.leftovers) or "none")
        if not interactive:
            self.found_at_startup.emit(n)
            return
        if n == 0:
            # Nothing to ask about; still prune registry records of dead processes.
            self._kill_in_thread(scan)
            return
        self.asking = True
        self.ask.emit(scan)

    def _kill_in_thread(self, scan) -> None:
        self._in_thread(lambda: self._killed.emit(self._safe_kill(scan)), "leftovers-kill")

    def _safe_kill(self, scan):
        try:
            return self._kill_fn(scan)
        except Exception as exc:
            log.exception("leftover kill failed")
            return exc

    def _on_killed(self, report) -> None:
        self._set_busy(False)
        if isinstance(report, Exception):
            self._report(self.tr("Ending the leftover workers failed: {error}. Run 'asr-service "
                                 "leftovers --kill' in a terminal to see the details.").format(
                                     error=report))
            return
        self._report(self.kill_sentence(report), english=report.sentence())

    def kill_sentence(self, report: leftovers.KillReport) -> str:
        """KillReport.sentence() (the CLI's English) in the interface language."""
        if not report.ended and not report.survivors:
            text = self.tr("No leftover workers were found.")
        else:
            text = self.tr("Ended %n leftover process(es).", "", len(report.ended))
            if report.survivors:
                text += " " + self.tr(
                    "%n could not be ended (pid {pids}): they may belong to another user; end "
                    "them from an administrator shell.", "", len(report.survivors)).format(
                        pids=", ".join(str(item.pid) for item in report.survivors))
        if report.gpu_still_held:
            text += " " + self.tr("GPU memory is still held by pid {pids}.").format(
                pids=", ".join(map(str, report.gpu_still_held)))
        return text

    def _report(self, sentence: str, english: str | None = None) -> None:
        self.last_report = sentence
        log.info("leftovers: %s", english or sentence)
        self.finished.emit(sentence)
