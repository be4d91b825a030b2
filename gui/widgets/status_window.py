"""The Status window: one row per process of the tree (tray, service, worker,
and the service's "resource tracker" on POSIX)
with live figures, and the service's model, device, restarts and URL.

It only displays: the figures come from StatusPoller (another thread) through
`show_snapshot`, and the tray's view of the service state through
`set_service_state`.
"""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.controllers.status_poll import gpu_text
from gui.i18n import word
from service.sizes import mib

# English sources, shown through StatusWindow.tr
COLUMNS = (QT_TRANSLATE_NOOP("StatusWindow", "Role"), QT_TRANSLATE_NOOP("StatusWindow", "PID"),
           QT_TRANSLATE_NOOP("StatusWindow", "State"), QT_TRANSLATE_NOOP("StatusWindow", "Uptime"),
           QT_TRANSLATE_NOOP("StatusWindow", "CPU %"), QT_TRANSLATE_NOOP("StatusWindow", "RSS"),
           QT_TRANSLATE_NOOP("StatusWindow", "GPU memory"))
KEYS = ("role", "pid", "state", "uptime", "cpu", "rss", "gpu")   # a row's keys, in COLUMNS order
WORD_KEYS = ("role", "state", "gpu")    # cells that hold data tokens: shown through word()


def fmt_bytes(n: int | None) -> str:
    return "-" if n is None else mib(n)


def fmt_uptime(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(s)
    translate = QCoreApplication.translate
    if s < 60:
        return translate("StatusWindow", "{s} s").format(s=s)
    if s < 3600:
        return translate("StatusWindow", "{m} min {s:02d} s").format(m=s // 60, s=s % 60)
    return translate("StatusWindow", "{h} h {m:02d} min").format(h=s // 3600, m=s % 3600 // 60)


def fmt_cpu(p: float | None) -> str:
    return "-" if p is None else f"{p:.1f}"


def rows_from(snapshot: dict) -> list[dict]:
    """The table's rows, as text, from one poll snapshot. Roles, states and
    GPU words stay the English tokens (tools read them); the table shows them
    through word()."""
    tray = snapshot.get("tray") or {}
    rows = [{"role": "tray", "pid": tray.get("pid"), "state": "running",
             "uptime": fmt_uptime(tray.get("uptime")), "cpu": fmt_cpu(tray.get("cpu_percent")),
             "rss": fmt_bytes(tray.get("rss")), "gpu": tray.get("gpu", "-")}]
    status = snapshot.get("service") or {}
    gpu_available = snapshot.get("gpu", "no GPU") != "no GPU"
    for p in status.get("processes") or []:
        if not p.get("pid"):
            continue
        if not p.get("alive"):
            state = "exited"
        elif p.get("role") == "worker":
            state = str(status.get("state") or "-")
        else:
            state = "running"
        rows.append({"role": p.get("role", "?"), "pid": p.get("pid"), "state": state,
                     "uptime": fmt_uptime(p.get("uptime")), "cpu": fmt_cpu(p.get("cpu_percent")),
                     "rss": fmt_bytes(p.get("rss")),
                     "gpu": gpu_text(gpu_available, bool(p.get("gpu_present")), p.get("gpu_memory"))})
    return rows


class StatusWindow(QWidget):
    visibility_changed = Signal(bool)
    updated = Signal(dict)      # what the window now shows (test hooks)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("ASR Tray — Status"))
        self.resize(640, 320)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.labels = {k: QLabel("-", self) for k in
                       ("state", "url", "token", "port_note", "model", "device", "restarts", "gpu",
                        "message")}
        for key in ("message", "port_note"):
            self.labels[key].setWordWrap(True)
        self.labels["url"].setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.token: str | None = None
        self.copy_url = QPushButton(self.tr("Copy"), self)
        self.copy_url.setToolTip(self.tr("Copy the service's address, for other programs"))
        self.copy_url.clicked.connect(lambda: self._copy(self.labels["url"].text()))
        self.copy_token = QPushButton(self.tr("Copy"), self)
        self.copy_token.setToolTip(self.tr("Copy the token that control requests need"))
        self.copy_token.clicked.connect(lambda: self._copy(self.token or ""))
        rows = {"url": self._with_button(self.labels["url"], self.copy_url),
                "token": self._with_button(self.labels["token"], self.copy_token)}
        form = QFormLayout()
        for key, title in (("state", self.tr("Service")), ("url", self.tr("URL")),
                           ("token", self.tr("Token")), ("port_note", ""),
                           ("model", self.tr("Model")), ("device", self.tr("Device")),
                           ("restarts", self.tr("Worker restarts")), ("gpu", self.tr("GPU")),
                           ("message", "")):
            form.addRow(title, rows.get(key, self.labels[key]))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table)
        self.rows: list[dict] = []
        self.service_state = "stopped"
        self.service_error: str | None = None
        self.set_connection(None, None, None)

    def _with_button(self, label: QLabel, button: QPushButton) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(label, 1)
        row.addWidget(button)
        return box

    @staticmethod
    def _copy(text: str) -> None:
        if text and text != "-":
            QGuiApplication.clipboard().setText(text)

    def set_connection(self, url: str | None, token: str | None, port_note: str | None) -> None:
        """Where other programs find the service, and the token its control
        requests need (shown masked: it is a secret; Copy gives it whole)."""
        self.token = token
        self.labels["url"].setText(url or "-")
        self.labels["token"].setText("•" * 8 if token else "-")
        self.labels["port_note"].setText(port_note or "")
        self.labels["port_note"].setVisible(bool(port_note))
        self.copy_url.setEnabled(bool(url))
        self.copy_token.setEnabled(bool(token))

    def set_service_state(self, state: str, error: str | None = None) -> None:
        self.service_state = state
        self.service_error = error
        self.labels["state"].setText(word(state))
        if state in ("stopped", "error"):
            self.labels["restarts"].setText("-")
            self.set_connection(None, None, None)
        self.labels["message"].setText(error or "")

    def show_snapshot(self, snapshot: dict) -> None:
        self.rows = rows_from(snapshot)
        status = snapshot.get("service") or {}
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, key in enumerate(KEYS):
                value = row[key]
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText("-" if value is None else word(value) if key in WORD_KEYS
                             else str(value))
        if snapshot.get("url"):   # the poll's target: the service answering now
            self.labels["url"].setText(snapshot["url"])
            self.copy_url.setEnabled(True)
        self.labels["gpu"].setText(word(snapshot.get("gpu") or "no GPU"))
        if status:
            compute = status.get("compute_type")
            self.labels["model"].setText(str(status.get("model") or "-"))
            self.labels["device"].setText(f"{status.get('device') or '-'}"
                                          + (f" ({compute})" if compute else ""))
            self.labels["restarts"].setText(str(status.get("restarts", "-")))
        message = self.service_error or snapshot.get("error") or status.get("error") or ""
        self.labels["message"].setText(message)
        self.updated.emit(self.shown())

    def shown(self) -> dict:
        return {"service_state": self.service_state, "rows": list(self.rows),
                **{k: v.text() for k, v in self.labels.items()}}

    def bring_forward(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.visibility_changed.emit(True)

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        self.visibility_changed.emit(False)
