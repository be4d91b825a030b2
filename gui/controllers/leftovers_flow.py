""""Kill leftover workers": scan → show them → confirm → kill → report.

scan() and kill() come from service.safety.leftovers (the same logic as
`asr-service leftovers --kill`) and read /proc for every process, so both run
in a thread; results come back through queued signals. Our own tree is never
a candidate (scan() excludes our ASR_TRAY_INSTANCE), and this tray only acts
on trees of its own runtime directory, the one whose registry it keeps.
"""
from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QMessageBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from service.safety import leftovers

log = logging.getLogger("asr.tray.leftovers")


def scan_mine() -> leftovers.Scan:
    """Leftovers of earlier trees of our runtime dir (leftovers.scan scopes it)."""
    return leftovers.scan()


def describe_age(seconds: float) -> str:
    s = int(seconds)
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


class LeftoversDialog(QDialog):
    def __init__(self, scan: leftovers.Scan, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ASR Tray — Leftover workers")
        n = len(scan.leftovers)
        text = QLabel(f"{n} process(es) of earlier ASR Tray runs are still running, and no tray "
                      "owns them any more. Ending them frees their memory (and GPU memory). "
                      "The service of this tray is not among them.", self)
        text.setWordWrap(True)
        self.table = QTableWidget(n, 5, self)
        self.table.setHorizontalHeaderLabels(("PID", "Role", "Age", "RSS", "GPU memory"))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for r, item in enumerate(scan.leftovers):
            values = (str(item.pid), item.role, describe_age(item.age),
                      "-" if item.rss is None else f"{item.rss / 2**20:.0f} MiB", item.gpu_memory)
            for c, v in enumerate(values):
                self.table.setItem(r, c, QTableWidgetItem(v))
        buttons = QDialogButtonBox(self)
        self.kill_button = buttons.addButton("End them", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, 260)


class LeftoversFlow(QObject):
    found_at_startup = Signal(int)      # how many leftovers the start-up scan saw
    finished = Signal(str)              # the report sentence after a kill (or "none found")
    busy_changed = Signal(bool)
    dialog_shown = Signal()
    _scanned = Signal(object, bool)     # (Scan, interactive) from the scan thread
    _killed = Signal(object)            # KillReport from the kill thread

    def __init__(self, parent_widget_fn=lambda: None, scan_fn=scan_mine, kill_fn=leftovers.kill,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._parent_widget_fn = parent_widget_fn
        self._scan_fn = scan_fn
        self._kill_fn = kill_fn
        self.busy = False
        self.dialog: LeftoversDialog | None = None
        self.message_box: QMessageBox | None = None
        self.last_scan: leftovers.Scan | None = None
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
        """The menu item: scan, then show what was found and ask."""
        if self.busy:
            if self.dialog is not None:
                self.dialog.raise_()
                self.dialog.activateWindow()
            return
        self._set_busy(True)
        self._in_thread(lambda: self._scanned.emit(self._safe_scan(), True), "leftovers-scan")

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
                self._report(f"Could not look for leftover workers: {scan}. Try again, or run "
                             "'asr-service leftovers' in a terminal to see the details.")
            return
        self.last_scan = scan
        n = len(scan.leftovers)
        log.info("leftover scan: %d leftover(s): %s", n,
                 ", ".join(f"{l.role} pid {l.pid}" for l in scan.leftovers) or "none")
        if not interactive:
            self.found_at_startup.emit(n)
            return
        if n == 0:
            # Nothing to ask about; still prune registry records of dead processes.
            self._in_thread(lambda: self._killed.emit(self._safe_kill(scan)), "leftovers-kill")
            return
        self.dialog = LeftoversDialog(scan, self._parent_widget_fn())
        self.dialog.accepted.connect(lambda: self._confirmed(scan))
        self.dialog.rejected.connect(self._cancelled)
        self.dialog.open()
        self.dialog_shown.emit()

    def _cancelled(self) -> None:
        self.dialog = None
        self._set_busy(False)

    def _confirmed(self, scan) -> None:
        self.dialog = None
        log.info("ending %d leftover(s) at the user's request", len(scan.leftovers))
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
            self._report(f"Ending the leftover workers failed: {report}. Run "
                         "'asr-service leftovers --kill' in a terminal to see the details.")
            return
        self._report(report.sentence())

    def _report(self, sentence: str) -> None:
        self.last_report = sentence
        log.info("leftovers: %s", sentence)
        self.message_box = QMessageBox(QMessageBox.Icon.Information, "ASR Tray — Leftover workers",
                                       sentence, QMessageBox.StandardButton.Ok,
                                       self._parent_widget_fn())
        self.message_box.open()
        self.finished.emit(sentence)
