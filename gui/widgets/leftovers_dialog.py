"""The "Kill leftover workers" question: a table of the leftovers a scan found
(machine-wide: each with its runtime directory, start time and command line,
so the user sees what they end) and an "End them" button. It only shows and asks; accepting or rejecting it
is the answer the tray passes on to LeftoversFlow, which does the killing."""
from __future__ import annotations

from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHeaderView, QLabel,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from service.safety import leftovers
from service.sizes import mib

COLUMNS = ("PID", "Role", "Age", "RSS", "GPU memory", "Started", "Runtime directory",
           "Command line")


def describe_age(seconds: float) -> str:
    s = int(seconds)
    return f"{s} s" if s < 120 else f"{s // 60} min" if s < 7200 else f"{s // 3600} h"


def row_of(item: leftovers.Leftover) -> tuple[str, ...]:
    """One table row, as text, in COLUMNS order."""
    return (str(item.pid), item.role, describe_age(item.age),
            "-" if item.rss is None else mib(item.rss), item.gpu_memory,
            item.started or "-", item.runtime_dir or "-", item.cmdline or "-")


class LeftoversDialog(QDialog):
    def __init__(self, scan: leftovers.Scan, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ASR Tray — Leftover workers")
        n = len(scan.leftovers)
        text = QLabel(f"{n} process(es) of earlier ASR Tray runs are still running, and no tray "
                      "owns them any more (found on this machine, whatever runtime directory "
                      "they used). Ending them frees their memory (and GPU memory). "
                      "The service of this tray is not among them.", self)
        text.setWordWrap(True)
        self.table = QTableWidget(n, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)   # the command line takes what is left
        for r, item in enumerate(scan.leftovers):
            for c, v in enumerate(row_of(item)):
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
        self.resize(900, 300)
