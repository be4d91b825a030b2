"""The system-tray icon: its look says the service state, its tooltip the
details, its menu the controls; a left click opens the Status window."""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from gui.widgets.controls import Controls
from resources.icons import STATES, icon_path

# the service state as the tooltip says it (English source; shown translated)
STATE_TEXT = {"stopped": QT_TRANSLATE_NOOP("Tray", "stopped"),
              "starting": QT_TRANSLATE_NOOP("Tray", "starting…"),
              "running": QT_TRANSLATE_NOOP("Tray", "running"),
              "stopping": QT_TRANSLATE_NOOP("Tray", "stopping…"),
              "error": QT_TRANSLATE_NOOP("Tray", "error")}


def load_icons() -> dict[str, QIcon]:
    return {state: QIcon(str(icon_path(state))) for state in STATES}


def icon_state(service_state: str, listening: bool) -> str:
    if listening and service_state == "running":
        return "listening"
    return {"stopping": "starting"}.get(service_state, service_state)


def tooltip_text(state: str, listening: bool, details: dict) -> str:
    translate = QCoreApplication.translate
    shown = translate("Tray", STATE_TEXT[state]) if state in STATE_TEXT else state
    if listening:
        lines = [translate("Tray", "ASR Tray — service {state}, live captions listening"
                           ).format(state=shown)]
    else:
        lines = [translate("Tray", "ASR Tray — service {state}").format(state=shown)]
    if details.get("model") and details.get("device"):
        lines.append(translate("Tray", "Model: {model} on {device}").format(
            model=details["model"], device=details["device"]))
    elif details.get("model"):
        lines.append(translate("Tray", "Model: {model}").format(model=details["model"]))
    if details.get("url"):
        lines.append(translate("Tray", "Address: {url}").format(url=details["url"]))
    if details.get("port_note"):
        lines.append(details["port_note"])
    if details.get("worker_pid"):
        lines.append(translate("Tray", "Worker PID: {pid}").format(pid=details["worker_pid"]))
    if details.get("memory"):
        lines.append(details["memory"])
    if details.get("error"):
        lines.append(details["error"])
    return "\n".join(lines)


class StateView:
    """What the tray icon and the fallback window share: the service state,
    listening and details, shown again whenever one changes. Subclasses
    implement `_show(icon_name, text)`."""

    def _init_view(self) -> None:
        self.state = "stopped"
        self.listening = False
        self.details: dict = {}
        self._refresh()

    def set_state(self, state: str) -> None:
        self.state = state
        self._refresh()

    def set_listening(self, listening: bool) -> None:
        self.listening = listening
        self._refresh()

    def set_details(self, details: dict) -> None:
        if details != self.details:
            self.details = details
            self._refresh()

    def current_icon_name(self) -> str:
        return icon_state(self.state, self.listening)

    def _refresh(self) -> None:
        self._show(self.current_icon_name(), tooltip_text(self.state, self.listening, self.details))

    def _show(self, icon_name: str, text: str) -> None:
        raise NotImplementedError


class Tray(QObject, StateView):
    open_status = Signal()

    def __init__(self, controls: Controls, parent: QObject | None = None):
        super().__init__(parent)
        self.icons = load_icons()
        self.menu = QMenu()
        for action in controls.layout():
            if action is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(action)
        self.icon = QSystemTrayIcon(self.icons["stopped"], self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self._init_view()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def notify(self, title: str, message: str, error: bool = False) -> None:
        kind = QSystemTrayIcon.MessageIcon.Critical if error else QSystemTrayIcon.MessageIcon.Information
        self.icon.showMessage(title, message, kind, 8000)

    def _show(self, icon_name: str, text: str) -> None:
        self.icon.setIcon(self.icons[icon_name])
        self.icon.setToolTip(text)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_status.emit()
