"""The composition root: builds the controllers (gui/controllers) and the
widgets (gui/widgets) and wires one to the other: the service, its status,
the menu, the windows, the leftovers question and the one quit path.

Everything here runs on the UI thread and only reacts to signals; the work
that can take time (HTTP, /proc scans, waiting for processes) lives in
StatusPoller, LeftoversFlow, QuitSequence and ServiceProcess.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from gui.controllers import test_hooks
from gui.controllers.leftovers_flow import LeftoversFlow
from gui.controllers.quit_sequence import QuitSequence
from gui.controllers.service_process import ServiceProcess, State
from gui.controllers.status_poll import StatusPoller
from gui.controllers.sweep import sweep
from gui.settings.store import Settings, SettingsStore
from gui.widgets.controls import Controls
from gui.widgets.fallback_window import FallbackWindow
from gui.widgets.leftovers_dialog import LeftoversDialog
from gui.widgets.status_window import StatusWindow
from gui.widgets.tray import Tray
from service.safety import markers, registry
from service.sizes import mib

log = logging.getLogger("asr.tray")

CAPTIONS_SNAPSHOT_MS = 100   # test hooks: lines come in bursts, the snapshot is written once

CAPTIONS_UNAVAILABLE = QT_TRANSLATE_NOOP(
    "TrayApp", "Live captions are not available in this installation ({why}). Transcribing files "
    "through the service still works; reinstall ASR Tray to get live captions.")


class TrayApp(QObject):
    def __init__(self, app: QApplication, opts, single=None, use_tray: bool | None = None,
                 exit_hard=os._exit, end_loop=None):
        super().__init__()
        self.app = app
        # exit(), not quit(): Qt 6's quit() first asks every window to close,
        # and the fallback window refuses (closing it means "quit").
        self.end_loop = end_loop or (lambda: app.exit(0))
        self.opts = opts
        self.single = single
        self.instance = markers.current_instance() or ""
        self.started_at = time.monotonic()
        self.hooks = test_hooks.enabled()
        self.controls = Controls(self)
        self.settings_store = SettingsStore()
        self.settings = self.settings_store.load()
        self.settings_window = None
        self.service = ServiceProcess(parent=self)
        self._configure_service(self.settings, first=True)
        self.status_window = StatusWindow()
        geometry = self.settings.geometries.get("status")
        if geometry:
            self.status_window.restoreGeometry(geometry)
        self.poller = StatusPoller(self)
        self.leftovers = LeftoversFlow(parent=self)
        self.leftovers_dialog: LeftoversDialog | None = None
        self.leftovers_message: QMessageBox | None = None
        self.quit_sequence = QuitSequence(self.service, self.instance, notify=self.notify,
                                          exit_hard=exit_hard, parent=self)
        forced = bool(getattr(opts, "no_tray", False))
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable() and not forced
        self.mode = "tray" if use_tray else "window"
        self.ui = Tray(self.controls, self) if use_tray else FallbackWindow(self.controls, forced)
        self.captions = None
        self.message_box: QMessageBox | None = None
        self.leftovers_found = 0
        self.icon_visible_at: float | None = None
        self.last_snapshot: dict = {}
        self.signals = None
        self._sweep_on_next_stop = False
        self._restarting = False     # the service stops to start again: captions wait for it
        self._captions_snapshot = QTimer(self)
        self._captions_snapshot.setSingleShot(True)
        self._captions_snapshot.setInterval(CAPTIONS_SNAPSHOT_MS)
        self._captions_snapshot.timeout.connect(self.write_hook_snapshot)
        self._wire()
        self.controls.update_for_state(self.service.state.value)

    # ------------------------------------------------------------ wiring
    def _wire(self) -> None:
        a = self.controls
        a["start"].triggered.connect(self.service.start)
        a["stop"].triggered.connect(self.stop_service)
        a["restart"].triggered.connect(self.restart_service)
        a["captions"].triggered.connect(self.open_captions)
        a["status"].triggered.connect(self.open_status)
        a["settings"].triggered.connect(lambda: self.open_settings())
        a["leftovers"].triggered.connect(self.leftovers.run)
        a["logs"].triggered.connect(self.open_log_folder)
        a["quit"].triggered.connect(lambda: self.quit("menu Quit"))

        self.service.state_changed.connect(self._on_state)
        self.service.stopped.connect(self._on_service_stopped)
        self.service.model_failed.connect(self._offer_another_model)
        self.service.failed.connect(lambda msg: self.notify(self.tr("ASR service failed"), msg,
                                                                error=True))
        self.poller.snapshot.connect(self._on_snapshot)
        self.status_window.visibility_changed.connect(self.poller.set_fast)
        self.status_window.visibility_changed.connect(self._remember_status_geometry)
        self.leftovers.found_at_startup.connect(self._on_leftovers_found)
        self.leftovers.ask.connect(self._ask_about_leftovers)
        self.leftovers.ask_again.connect(self._raise_leftovers_dialog)
        self.leftovers.finished.connect(self._on_leftovers_report)
        self.leftovers.busy_changed.connect(lambda busy: a["leftovers"].setEnabled(
            not busy and not self.quit_sequence.started_at))
        self.quit_sequence.done.connect(lambda _report: self.end_loop())

        self.app.aboutToQuit.connect(self.final_cleanup)
        self.app.commitDataRequest.connect(lambda _mgr: self.quit("session end"))
        if isinstance(self.ui, Tray):
            self.ui.open_status.connect(self.open_status)
        else:
            self.ui.close_requested.connect(lambda: self.quit("fallback window closed"))
        if self.single is not None:
            self.single.message.connect(self._on_instance_message)
        if self.hooks:
            self.status_window.updated.connect(lambda _shown: self.write_hook_snapshot())
            self.leftovers.ask.connect(
                lambda _scan: QTimer.singleShot(150, self.write_hook_snapshot))
            if isinstance(self.ui, Tray):
                # where the menu items are, so a test can click them for real
                self.ui.menu.aboutToShow.connect(
                    lambda: QTimer.singleShot(150, self.write_hook_snapshot))

    def install_signal_handlers(self) -> None:
        from gui.controllers.unix_signals import SignalBridge

        self.signals = SignalBridge(
            lambda signum: self.quit(f"signal {signal.Signals(signum).name}"), self)

    def start(self, autostart: bool | None = None, signals: bool = True) -> None:
        if signals:
            self.install_signal_handlers()
        self.ui.show()
        if self.mode == "window":
            log.info("No system tray (or --no-tray): the controls are in a window")
        elif self.hooks:
            self._watch_icon()
        if autostart is None:
            autostart = self.settings.start_service and not getattr(self.opts, "no_start", False)
        if autostart:
            self.service.start()
        self.poller.start()
        self.leftovers.scan_at_startup()
        self.write_hook_snapshot()

    # ------------------------------------------------------------ reactions
    def _on_state(self, state: str) -> None:
        self.controls.update_for_state(state, quitting=self.quit_sequence.started_at is not None)
        self.ui.set_state(state)
        self.status_window.set_service_state(state, self.service.error)
        if state == State.RUNNING.value:
            self.status_window.set_connection(self.service.url, self.service.token,
                                              self.service.port_note())
        self.poller.set_target(self.service.url if state == State.RUNNING.value else None)
        if state in (State.RUNNING.value, State.ERROR.value):
            self._restarting = False
        if self.captions is not None and self.quit_sequence.started_at is None:
            self._tell_captions(state)   # they wait through a restart and say so themselves
        if state == State.RUNNING.value:
            self.poller.poll_now()
        self.write_hook_snapshot()

    def _on_snapshot(self, snap: dict) -> None:
        self.last_snapshot = snap
        status = snap.get("service") or {}
        details = {"model": status.get("model"), "device": status.get("device"),
                   "worker_pid": status.get("worker_pid"), "error": self.service.error,
                   "url": self.service_url(), "port_note": self.service.port_note()}
        worker = next((p for p in status.get("processes") or [] if p.get("role") == "worker"), None)
        if worker and worker.get("gpu_present"):
            used = worker.get("gpu_memory")
            details["memory"] = (self.tr("GPU: in use") if used is None
                                 else self.tr("GPU: {size}").format(size=mib(used)))
        elif worker and worker.get("rss"):
            details["memory"] = self.tr("RAM: {size} (worker)").format(size=mib(worker["rss"]))
        self.ui.set_details(details)
        if self.status_window.isVisible() or self.hooks:
            self.status_window.show_snapshot(snap)

    def _on_leftovers_found(self, count: int) -> None:
        self.leftovers_found = count
        self.controls.mark_leftovers(count)
        if count:
            self.notify(self.tr("Leftover workers found"),
                        self.tr("%n process(es) of an earlier ASR Tray run are still running and "
                                "hold memory. Use 'Kill leftover workers' in the menu to see and "
                                "end them.", "", count))
        self.write_hook_snapshot()

    def _ask_about_leftovers(self, scan) -> None:
        dialog = LeftoversDialog(scan, self._dialog_parent())
        dialog.accepted.connect(lambda: self._answer_leftovers(lambda: self.leftovers.end(scan)))
        dialog.rejected.connect(lambda: self._answer_leftovers(self.leftovers.keep))
        self.leftovers_dialog = dialog
        dialog.open()

    def _answer_leftovers(self, answer) -> None:
        self.leftovers_dialog = None
        answer()

    def _raise_leftovers_dialog(self) -> None:
        if self.leftovers_dialog is not None:
            self.leftovers_dialog.raise_()
            self.leftovers_dialog.activateWindow()

    def _on_leftovers_report(self, sentence: str) -> None:
        self.leftovers_found = 0
        self.controls.mark_leftovers(0)
        self.notify(self.tr("Leftover workers"), sentence)
        # its own box: a later show_message must not replace (and delete) this one
        self.leftovers_message = QMessageBox(
            QMessageBox.Icon.Information, self.tr("ASR Tray — Leftover workers"), sentence,
            QMessageBox.StandardButton.Ok, self._dialog_parent())
        self.leftovers_message.open()
        self.write_hook_snapshot()

    def _on_instance_message(self, line: str) -> None:
        if line == "show":
            self.open_status()
            return
        if not self.hooks:
            log.warning("ignored message from another process: %r", line[:80])
            return
        verb, _, arg = line.partition(" ")
        if verb == "action" and arg in self.controls.actions:
            self.controls[arg].trigger()
        elif verb == "dialog" and self.leftovers_dialog is not None:
            dialog = self.leftovers_dialog
            (dialog.accept if arg == "accept" else dialog.reject)()
        self.write_hook_snapshot()

    # ------------------------------------------------------------ actions
    def stop_service(self) -> None:
        self._restarting = False
        if self.service.stop():
            self._sweep_on_next_stop = True

    def restart_service(self) -> None:
        """Restart (menu, new settings): live captions go on once it is back."""
        self._restarting = True
        self.service.restart()

    def _on_service_stopped(self) -> None:
        """After Stop from the menu: prove nothing of the old tree is left (the
        quit sequence does its own sweep)."""
        if self._sweep_on_next_stop and self.quit_sequence.started_at is None:
            self._sweep_on_next_stop = False
            instance, stopped_at = self.instance, time.time()
            threading.Thread(target=lambda: sweep(instance, created_before=stopped_at),
                             name="stop-sweep", daemon=True).start()

    def open_status(self) -> None:
        self.status_window.set_service_state(self.service.state.value, self.service.error)
        if self.last_snapshot:
            self.status_window.show_snapshot(self.last_snapshot)
        self.status_window.bring_forward()
        self.poller.poll_now()

    def _configure_service(self, settings: Settings, first: bool = False) -> None:
        """The service's options: this run's command-line choices win over Settings."""
        opts = self.opts
        port = getattr(opts, "port", None)
        self.service.configure(model=getattr(opts, "model", None) or settings.model,
                               device=getattr(opts, "device", None) or settings.device,
                               compute_type=settings.compute_type or None,
                               port=settings.port if port is None else port)
        if first:
            log.info("service options: model %s, device %s, compute type %s, port %s",
                     self.service.model, self.service.device,
                     self.service.compute_type or "default", self.service.port)

    def open_settings(self, page: str = "service") -> None:
        if self.settings_window is None:
            from gui.widgets.settings_window import SettingsWindow

            self.settings_window = SettingsWindow(self.settings_store)
            self.settings_window.applied.connect(self._on_settings_applied)
        self.settings_window.open_page(page)   # shows it, filled from the saved settings

    def _offer_another_model(self, sentence: str) -> None:
        """The model could not load: Settings opens on its Models page, the
        sentence next to the ways of choosing another one."""
        self.open_settings("models")
        self.settings_window.models_page.show_problem(sentence)

    def _on_settings_applied(self, new: Settings, restart: list) -> None:
        old, self.settings = self.settings, new
        self._configure_service(new)
        if self.captions is not None and hasattr(self.captions, "apply_settings"):
            self.captions.apply_settings(new)
        if restart and self.service.state in (State.RUNNING, State.STARTING):
            what = ", ".join(restart)
            log.info("settings changed (%s): restarting the service", what)
            self.notify(self.tr("Settings"),
                        self.tr("Restarting the ASR service to use the new settings "
                                "(model {model}, port {port}); this takes a few seconds.").format(
                            model=self.service.model, port=self.service.port))
            self.restart_service()
        if new.ui_language != old.ui_language:
            self.notify(self.tr("Settings"), self.tr("The interface language changes the next "
                                                     "time ASR Tray starts."))
        self.write_hook_snapshot()

    def _remember_status_geometry(self, visible: bool) -> None:
        if not visible:
            self.settings_store.remember_geometry("status", bytes(self.status_window.saveGeometry()))

    def open_log_folder(self) -> None:
        folder = registry.log_dir()
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.show_message(self.tr("Open log folder"),
                              self.tr("No file manager could open the log folder. The logs are "
                                      "in {folder}.").format(folder=folder))

    def open_captions(self) -> None:
        """Show the captions window; a stopped service is started, since
        captions need it (Start there begins once it is ready)."""
        if self.captions is None:
            try:
                from gui.controllers.live_captions import LiveCaptions
                from gui.widgets.captions_window import CaptionsWindow
            except Exception as exc:  # missing module or a missing audio library
                log.warning("live captions unavailable: %s", exc)
                self.show_message(self.tr("Live captions"),
                                  self.tr(CAPTIONS_UNAVAILABLE).format(why=exc))
                return
            # the window adopts the controller: closing it stops the stream
            self.captions = CaptionsWindow(captions=LiveCaptions(service_url=self.service_url),
                                           settings_store=self.settings_store)
            self.captions.models_requested.connect(lambda: self.open_settings("models"))
            self.captions.listening_changed.connect(self.ui.set_listening)
            self.captions.error.connect(
                lambda msg: self.notify(self.tr("Live captions"), msg, error=True))
            if hasattr(self.captions, "start_service_requested"):
                self.captions.start_service_requested.connect(self.service.start)
            live = self.captions.live
            live.status.connect(lambda text: log.info("captions status: %s", text))
            if self.hooks:
                for changed in (live.finished_line, live.status, live.devices,
                                self.captions.listening_changed):
                    changed.connect(lambda *_: self._captions_changed())
            self._tell_captions(self.service.state.value)
        stopped = self.service.state in (State.STOPPED, State.ERROR)
        if stopped and self.quit_sequence.started_at is None:
            log.info("live captions opened while the service is %s: starting it",
                     self.service.state.value)
            self.service.start()
        self.captions.show()
        self.captions.raise_()
        self.captions.activateWindow()

    def service_url(self) -> str | None:
        return self.service.url if self.service.state == State.RUNNING else None

    def _tell_captions(self, state: str) -> None:
        """The service's state in the words of the captions controller and
        of its window: a stop that is part of a restart is "restarting"
        (captions wait), any other stop or failure ends them there."""
        if self._restarting and state in (State.STOPPING.value, State.STOPPED.value,
                                          State.STARTING.value):
            state = "restarting"
        # the window: "restarting" hides its service line (the controller's status says it)
        shown = {State.RUNNING.value: "running", State.STARTING.value: "starting",
                 "restarting": "restarting"}.get(state, "stopped")
        try:
            self.captions.live.set_service_state(state)
            if hasattr(self.captions, "set_service_state"):
                self.captions.set_service_state(shown)
        except Exception:
            log.exception("telling live captions the service state failed")

    def _stop_captions_quietly(self) -> None:
        """Quitting: captions end without a word (no balloon, no "press Start")."""
        try:
            self.captions.live.shut_down()
        except Exception:
            log.exception("stopping live captions failed")

    def quit(self, reason: str) -> None:
        if self.quit_sequence.started_at is None:
            self.controls.update_for_state(self.service.state.value, quitting=True)
            if self.captions is not None:
                self._stop_captions_quietly()
            if self.settings_window is not None and self.settings_window.download.is_running():
                self.settings_window.download.cancel()   # its child also ends on our exit
            self.poller.stop()
        self.quit_sequence.begin(reason)
        self.write_hook_snapshot()

    def final_cleanup(self) -> None:
        """aboutToQuit, or after the loop ended: when the loop was ended by
        someone else (a session manager calling quit()), the quit sequence
        never ran. The loop is gone, so this one waits, bounded."""
        if self.quit_sequence.finished:
            return
        if self.quit_sequence.started_at is None:
            log.info("the event loop ended without our quit: cleaning up now")
        self.poller.stop()
        self.service.stop_blocking()
        report = sweep(self.instance)
        log.info("final cleanup: %s", report.sentence())
        self.quit_sequence.mark_finished()

    # ------------------------------------------------------------ messages
    def notify(self, title: str, message: str, error: bool = False) -> None:
        log.info("notification: %s: %s", title, message)
        self.ui.notify(title, message, error)

    def show_message(self, title: str, text: str) -> None:
        self.message_box = QMessageBox(QMessageBox.Icon.Information,
                                       self.tr("ASR Tray — {title}").format(title=title), text,
                                       QMessageBox.StandardButton.Ok, self._dialog_parent())
        self.message_box.open()

    def _dialog_parent(self):
        return self.ui if isinstance(self.ui, FallbackWindow) else None

    # ------------------------------------------------------------ test hooks
    def _watch_icon(self) -> None:
        """Note when the tray host has embedded the icon (it has a geometry)."""
        timer = QTimer(self)
        timer.setInterval(20)

        def check():
            if self.ui.icon.geometry().isValid() and self.ui.icon.geometry().width() > 0:
                self.icon_visible_at = time.time()
                timer.stop()
                self.write_hook_snapshot()
            elif time.monotonic() - self.started_at > 30:
                timer.stop()
        timer.timeout.connect(check)
        timer.start()

    def hook_snapshot(self) -> dict:
        icon = self.ui.icon if isinstance(self.ui, Tray) else None
        geo = icon.geometry() if icon is not None else None
        return {
            "tray_pid": os.getpid(), "instance": self.instance, "mode": self.mode,
            "icon": self.ui.current_icon_name() if isinstance(self.ui, Tray) else None,
            "icon_visible": bool(icon and icon.isVisible()),
            "icon_geometry": [geo.x(), geo.y(), geo.width(), geo.height()] if geo else None,
            "icon_visible_at": self.icon_visible_at,
            "state": self.service.state.value, "service_pid": self.service.pid,
            "worker_pid": self.service.worker_pid, "url": self.service.url,
            "requested_port": self.service.port, "port_note": self.service.port_note(),
            "settings_window": self._settings_shown(),
            "error": self.service.error,
            "status_visible": self.status_window.isVisible(),
            "status_window": self.status_window.shown(),
            "leftovers_found": self.leftovers_found,
            "leftovers_report": self.leftovers.last_report,
            "leftovers_dialog_open": self.leftovers_dialog is not None,
            "quitting": self.quit_sequence.started_at is not None,
            "actions": {k: v.isEnabled() for k, v in self.controls.actions.items()},
            "menu": self._menu_geometry(),
            "leftovers_kill_button": self._kill_button_geometry(),
            "captions": self._captions_shown(),
        }

    def _captions_changed(self) -> None:
        if not self._captions_snapshot.isActive():
            self._captions_snapshot.start()

    def _captions_shown(self) -> dict | None:
        """What the captions window shows (its own snapshot() where it has
        one), and where its Start button is, so a test can press it."""
        window = self.captions
        if window is None:
            return None
        try:
            if hasattr(window, "snapshot"):
                shown = dict(window.snapshot())
            else:
                device = window.device_box.currentData()
                shown = {"visible": window.isVisible(), "listening": window.is_listening(),
                         "source": {"key": device.key, "label": device.label} if device else None,
                         "lines": [{"text": s["text"], "start": s["start"], "end": s["end"]}
                                   for s in window.live.session.segments],
                         "partial": window.view.partial_text(), "status": window.status.text()}
            shown["reconnecting"] = window.live.is_reconnecting()
            button = window.start_button
            if window.isVisible() and button.isVisible():
                top_left = button.mapToGlobal(button.rect().topLeft())
                shown["start_button"] = [top_left.x(), top_left.y(), button.width(),
                                         button.height()]
            return shown
        except Exception:
            log.exception("the captions window's snapshot failed")
            return None

    def _settings_shown(self) -> dict | None:
        window = self.settings_window
        if window is None or not window.isVisible():
            return None
        from gui.widgets.settings_window import PAGES

        return {"page": PAGES[window.page_list.currentRow()],
                "model_problem": window.models_page.folder_label.text()}

    def _kill_button_geometry(self) -> list[int] | None:
        dialog = self.leftovers_dialog
        if dialog is None or not dialog.isVisible():
            return None
        button = dialog.kill_button
        top_left = button.mapToGlobal(button.rect().topLeft())
        return [top_left.x(), top_left.y(), button.width(), button.height()]

    def _menu_geometry(self) -> dict | None:
        if not isinstance(self.ui, Tray) or not self.ui.menu.isVisible():
            return None
        menu = self.ui.menu
        items = {}
        for name, action in self.controls.actions.items():
            r = menu.actionGeometry(action)
            top_left = menu.mapToGlobal(r.topLeft())
            items[name] = [top_left.x(), top_left.y(), r.width(), r.height()]
        return {"items": items}

    def write_hook_snapshot(self) -> None:
        if self.hooks:
            try:
                test_hooks.write_snapshot(self.hook_snapshot())
            except OSError as exc:
                log.warning("test snapshot not written: %s", exc)
