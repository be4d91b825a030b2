"""The tray's actions, built once and shared by the tray menu and the
fallback window, so both always offer the same controls in the same state."""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject
from PySide6.QtGui import QAction, QFont

from gui.controllers.service_process import State

# name -> menu text (English source; shown through Controls.tr); the order is
# the menu's order (None: a separator)
ITEMS = (
    ("start", QT_TRANSLATE_NOOP("Controls", "Start service")),
    ("stop", QT_TRANSLATE_NOOP("Controls", "Stop service")),
    ("restart", QT_TRANSLATE_NOOP("Controls", "Restart service")), None,
    ("captions", QT_TRANSLATE_NOOP("Controls", "Live captions…")),
    ("status", QT_TRANSLATE_NOOP("Controls", "Status…")),
    ("settings", QT_TRANSLATE_NOOP("Controls", "Settings…")), None,
    ("leftovers", QT_TRANSLATE_NOOP("Controls", "Kill leftover workers")),
    ("logs", QT_TRANSLATE_NOOP("Controls", "Open log folder")), None,
    ("quit", QT_TRANSLATE_NOOP("Controls", "Quit")),
)
TEXTS = dict(item for item in ITEMS if item is not None)


class Controls(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.actions: dict[str, QAction] = {}
        for item in ITEMS:
            if item is not None:
                name, text = item
                action = QAction(self.tr(text), self)
                action.setObjectName(f"action-{name}")
                self.actions[name] = action

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def layout(self) -> list[QAction | None]:
        return [None if item is None else self.actions[item[0]] for item in ITEMS]

    def update_for_state(self, state: str, quitting: bool = False) -> None:
        s = State(state)
        self["start"].setEnabled(not quitting and s in (State.STOPPED, State.ERROR))
        self["stop"].setEnabled(not quitting and s in (State.STARTING, State.RUNNING))
        self["restart"].setEnabled(not quitting and s in (State.RUNNING, State.ERROR, State.STARTING))
        for name in ("captions", "settings", "leftovers", "quit"):
            self[name].setEnabled(not quitting)

    def mark_leftovers(self, count: int) -> None:
        """After a scan: say how many were found, in bold so it is noticed."""
        action = self["leftovers"]
        action.setText(self.tr("Kill leftover workers (%n found)", "", count) if count
                       else self.tr(TEXTS["leftovers"]))
        font = QFont(action.font())
        font.setBold(count > 0)
        action.setFont(font)
