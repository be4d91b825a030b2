"""The "Kill leftover workers" question: a table of the leftovers a scan found
(machine-wide: each with its runtime directory, start time and command line,
so the user sees what they end) and an "End them" button. It only shows and asks; accepting or rejecting it
is the answer the tray passes on to LeftoversFlow, which does the killing."""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from gui.i18n import word
from service.safety import leftovers
from service.sizes import mib

# English sources, shown through LeftoversDialog.tr
COLUMNS = (QT_TRANSLATE_NOOP("LeftoversDialog", "PID"), QT_TRANSLATE_NOOP("LeftoversDialog", "Role"),
           QT_TRANSLATE_NOOP("LeftoversDialog", "Age"), QT_TRANSLATE_NOOP("LeftoversDialog", "RSS"),
           QT_TRANSLATE_NOOP("LeftoversDialog", "GPU memory"),
           QT_TRANSLATE_NOOP("LeftoversDialog", "Started"),
           QT_TRANSLATE_NOOP("LeftoversDialog", "Runtime directory"),
           QT_TRANSLATE_NOOP("LeftoversDialog", "Command line"))


def describe_age(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return QCoreApplication.translate("LeftoversDialog", "{n} s").format(n=s)
    if s < 7200:
        return QCoreApplication.translate("LeftoversDialog", "{n} min").format(n=s // 60)
    return QCoreApplication.translate("LeftoversDialog", "{n} h").format(n=s // 3600)


def row_of(item: leftovers.Leftover) -> tuple[str, ...]:
    """One table row, as text, in COLUMNS order (roles and GPU words translated)."""
    return (str(item.pid), word(item.role), describe_age(item.age),
            "-" if item.rss is None else mib(item.rss), word(item.gpu_memory),
            item.started or "-", item.runtime_dir or "-", item.cmdline or "-")


class LeftoversDialog(QDialog):
    def __init__(self, scan: leftovers.Scan, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(self.tr("ASR Tray — Leftover workers"))
        n = len(scan.leftovers)
        text = QLabel(self.tr("%n process(es) of earlier ASR Tray runs are still running, and no "
                              "tray owns them any more (found on this machine, whatever runtime "
                              "directory they used). Ending them frees their memory (and GPU "
                              "memory). The service of this tray is not among them.", "", n), self)
        text.setWordWrap(True)
        self.table = QTableWidget(n, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)   # the command line takes what is left
        for r, item in enumerate(scan.leftovers):
            for c, v in enumerate(row_of(item)):
                self.table.setItem(r, c, QTableWidgetItem(v))
        buttons = QDialogButtonBox(self)
        self.kill_button = buttons.addButton(self.tr("End them"), QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(900, 300)
