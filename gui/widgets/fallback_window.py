"""Where no system tray exists (some desktops, Wayland without a tray host):
the tray's controls as buttons in a small window, with a notice saying why,
so the app is never unusable. Closing this window quits the app, as it is
the only way left to reach it."""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from gui.widgets.controls import Controls
from gui.widgets.tray import StateView, load_icons

# English sources, shown through FallbackWindow.tr
NOTICE = QT_TRANSLATE_NOOP(
    "FallbackWindow", "No system tray was found on this desktop, so ASR Tray shows its controls "
    "in this window instead. Closing the window quits ASR Tray and stops the service.")
NOTICE_FORCED = QT_TRANSLATE_NOOP(
    "FallbackWindow", "ASR Tray shows its controls in this window (--no-tray). Closing the window "
    "quits ASR Tray and stops the service.")


class FallbackWindow(QWidget, StateView):
    close_requested = Signal()

    def __init__(self, controls: Controls, forced: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("ASR Tray")
        self.icons = load_icons()
        self.notice = QLabel(self.tr(NOTICE_FORCED if forced else NOTICE), self)
        self.notice.setWordWrap(True)
        self.state_label = QLabel(self)
        self.state_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message_label = QLabel(self)
        self.message_label.setWordWrap(True)
        grid = QGridLayout()
        actions = [a for a in controls.layout() if a is not None]
        for i, action in enumerate(actions):
            button = QToolButton(self)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            grid.addWidget(button, i // 3, i % 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addWidget(self.state_label)
        layout.addLayout(grid)
        layout.addWidget(self.message_label)
        self._init_view()

    def notify(self, title: str, message: str, error: bool = False) -> None:
        # No notification area without a tray: the window's own line carries it.
        self.message_label.setText(self.tr("{title}: {message}").format(title=title,
                                                                      message=message))

    def _show(self, icon_name: str, text: str) -> None:
        self.setWindowIcon(self.icons[icon_name])
        self.state_label.setText(text)

    def closeEvent(self, event) -> None:
        event.ignore()            # the quit sequence decides when the app goes
        self.close_requested.emit()
