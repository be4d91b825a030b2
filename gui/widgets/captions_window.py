"""The live captions window: microphone picker and level, start/stop, the
running transcript, and export of the session as TXT, SRT or VTT.

Public interface (the tray wires it into its menu):
    CaptionsWindow(service_url: Callable[[], str | None], parent=None)
    start_captions(), stop_captions(), is_listening() -> bool
    listening_changed = Signal(bool), error = Signal(str)
    export(path, fmt) -> Path     (what the Export menu's file dialog calls)

Nothing here blocks the event loop: opening the device, the network and
device rescans run in other threads and report back through signals.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QHBoxLayout,
                               QLabel, QMenu, QProgressBar, QPushButton, QSpinBox, QTextEdit,
                               QToolButton, QVBoxLayout, QWidget)

from shiboken6 import isValid

from service import formats

log = logging.getLogger("asr.captions")

FORMATS = {"txt": ("Text", formats.to_text), "srt": ("SubRip subtitles", formats.to_srt),
           "vtt": ("WebVTT subtitles", formats.to_vtt)}
NO_SERVICE = ("Live captions cannot start: the ASR service is not running. Start it from the "
              "tray menu (or wait until it is ready), then press Start.")


@dataclass
class CaptionSession:
    """Finished lines on one timeline: seconds since the session began, over
    any number of start/stop cycles (each stream counts from its own 0)."""
    began: float | None = None                      # time.monotonic() of the first start
    segments: list[dict] = field(default_factory=list)

    def add(self, stream_began: float, event: dict) -> dict | None:
        text = str(event.get("text", "")).strip()
        if not text:
            return None
        if self.began is None:
            self.began = stream_began
        shift = stream_began - self.began
        seg = {"start": max(0.0, round(event["start"] + shift, 3)),
               "end": max(0.0, round(event["end"] + shift, 3)), "text": text}
        self.segments.append(seg)
        self.segments.sort(key=lambda s: s["start"])  # a flushing old stream may land late
        return seg

    def clear(self) -> None:
        self.began = None
        self.segments.clear()

    def render(self, fmt: str) -> str:
        return FORMATS[fmt][1](self.segments)


class TranscriptView(QTextEdit):
    """Finished lines in the normal colour, the current partial after them in
    grey italics; follows the newest line unless the user scrolled up."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setPlaceholderText("Captions appear here while you speak.")
        self._partial_at: int | None = None   # document position where the partial begins
        self.final_format = QTextCharFormat()
        self.partial_format = QTextCharFormat()
        self.partial_format.setForeground(QColor("#8a8a8a"))
        self.partial_format.setFontItalic(True)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def _edit(self, change) -> None:
        follow = self.at_bottom()
        bar = self.verticalScrollBar()
        kept = bar.value()
        cursor = QTextCursor(self.document())
        cursor.beginEditBlock()
        change(cursor)
        cursor.endEditBlock()
        if follow:
            bar.setValue(bar.maximum())
        else:
            bar.setValue(kept)

    def _drop_partial(self, cursor: QTextCursor) -> None:
        if self._partial_at is not None:
            cursor.setPosition(self._partial_at)
            cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
            cursor.removeSelectedText()
            self._partial_at = None

    def _append(self, cursor: QTextCursor, text: str, fmt: QTextCharFormat) -> None:
        cursor.movePosition(QTextCursor.End)
        if not self.document().isEmpty() and cursor.position() > 0:
            cursor.insertBlock()
        cursor.insertText(text, fmt)

    def set_partial(self, text: str) -> None:
        def change(cursor):
            self._drop_partial(cursor)
            cursor.movePosition(QTextCursor.End)
            self._partial_at = cursor.position()
            self._append(cursor, text, self.partial_format)
        self._edit(change)

    def add_final(self, text: str) -> None:
        def change(cursor):
            self._drop_partial(cursor)
            if text:
                self._append(cursor, text, self.final_format)
        self._edit(change)

    def partial_text(self) -> str:
        if self._partial_at is None:
            return ""
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._partial_at)
        cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n").strip()

    def final_text(self) -> str:
        full = self.toPlainText()
        part = self.partial_text()
        return full[: len(full) - len(part)].strip() if part and full.endswith(part) else full.strip()

    def clear_all(self) -> None:
        self._partial_at = None
        self.clear()


class CaptionsWindow(QWidget):
    listening_changed = Signal(bool)
    error = Signal(str)
    _devices_listed = Signal(object, str)   # (devices, error sentence or "")

    def __init__(self, service_url: Callable[[], str | None], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Live captions — ASR Tray")
        self.resize(720, 420)
        self._service_url = service_url
        self.session = CaptionSession()
        self.last_error = ""
        self._client = None          # the StreamClient that is listening now
        self._capture = None
        self._listening = False
        self._flushing: set = set()  # stopped clients still delivering their last words
        self._listing = False

        # -- top row: device, level, start/stop
        self.device_box = QComboBox()
        self.device_box.setMinimumWidth(260)
        self.device_box.setToolTip("Microphone")
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip("Look for microphones again (one plugged in since)")
        self.level = QProgressBar()
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setFixedSize(110, 12)
        self.level.setToolTip("Input level")
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Microphone:"))
        top.addWidget(self.device_box, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.level)
        top.addWidget(self.start_button)

        self.status = QLabel("Press Start to caption what the microphone hears.")
        self.status.setWordWrap(True)
        self.view = TranscriptView()

        # -- bottom row: display and session tools
        self.font_size = QSpinBox()
        self.font_size.setRange(8, 48)
        self.font_size.setSuffix(" pt")
        self.font_size.setValue(14)
        self.font_size.setToolTip("Text size")
        self.on_top = QCheckBox("Always on top")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selection, or every finished line")
        self.clear_button = QPushButton("Clear")
        self.export_button = QToolButton()
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.export_button)
        for fmt, (name, _) in FORMATS.items():
            menu.addAction(f"{name} (.{fmt})…", lambda f=fmt: self._export_dialog(f))
        self.export_button.setMenu(menu)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Size:"))
        bottom.addWidget(self.font_size)
        bottom.addWidget(self.on_top)
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.clear_button)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        self.start_button.clicked.connect(self._toggle)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.font_size.valueChanged.connect(self._apply_font)
        self.on_top.toggled.connect(self.set_always_on_top)
        self.copy_button.clicked.connect(self.copy)
        self.clear_button.clicked.connect(self.clear)
        self._devices_listed.connect(self._on_devices)
        self._meter = QTimer(self)
        self._meter.setInterval(50)
        self._meter.timeout.connect(self._update_level)
        self._apply_font(self.font_size.value())
        self.refresh_devices(rescan=False)

    # ------------------------------------------------------------ public
    def is_listening(self) -> bool:
        return self._listening

    def start_captions(self) -> None:
        if self._listening:
            return
        url = self._service_url()
        if not url:
            self._show_error(NO_SERVICE)
            return
        from gui.sources.capture import Capture
        from gui.controllers.stream_client import StreamClient

        device = self.device_box.currentData()
        capture = Capture()

        def open_source():
            capture.start(device)
            return capture
        client = StreamClient(url, open_source)
        # Lambdas outlive the window (Qt cannot disconnect them when it is
        # deleted), and a stopped stream may still report after that.
        alive = lambda: isValid(self) and isValid(self.status)  # noqa: E731
        client.opened.connect(lambda cap, c=client: alive() and self._on_opened(c, cap))
        client.partial.connect(lambda ev, c=client: alive() and self._on_partial(c, ev))
        client.final.connect(lambda ev, c=client: alive() and self._on_final(c, ev))
        client.error.connect(lambda msg: alive() and self._show_error(msg))
        client.finished.connect(lambda c=client: alive() and self._on_finished(c))
        self._client, self._capture = client, capture
        self.last_error = ""
        self._set_status("Opening the microphone…")
        self._set_listening(True)
        client.start()

    def stop_captions(self) -> None:
        """Stops listening now; the last utterance still arrives (flush)."""
        client = self._client
        if client is None:
            return
        self._client, self._capture = None, None
        self._flushing.add(client)
        client.stop()
        self._set_status("Stopped. Finishing the last words…")
        self._set_listening(False)

    def export(self, path, fmt: str) -> Path:
        """Write the session (finished lines) as txt, srt or vtt."""
        fmt = fmt.lower().lstrip(".")
        if fmt not in FORMATS:
            raise ValueError(f"Unknown export format {fmt!r}: use txt, srt or vtt.")
        path = Path(path)
        path.write_text(self.session.render(fmt), encoding="utf-8")
        return path

    def refresh_devices(self, rescan: bool = True) -> None:
        """List microphones in a thread (PortAudio can take a while)."""
        if self._listening or self._listing:
            return   # re-initialising PortAudio would break the open stream
        self._listing = True
        self.refresh_button.setEnabled(False)

        def work():
            from gui.sources.capture import CaptureError, list_input_devices
            try:
                devices, why = list_input_devices(rescan=rescan), ""
            except CaptureError as exc:
                devices, why = [], str(exc)
            except Exception as exc:
                devices, why = [], f"The microphones could not be listed ({exc})."
            self._devices_listed.emit(devices, why)
        threading.Thread(target=work, name="list-microphones", daemon=True).start()

    # ------------------------------------------------------------ display tools
    def set_always_on_top(self, on: bool) -> None:
        visible = self.isVisible()
        self.setWindowFlag(Qt.WindowStaysOnTopHint, on)
        if visible:
            self.show()   # changing window flags hides a window
        if self.on_top.isChecked() != on:
            self.on_top.setChecked(on)

    def copy(self) -> str:
        text = self.view.textCursor().selectedText().replace("\u2029", "\n")
        if not text:
            text = "\n".join(s["text"] for s in self.session.segments)
        QApplication.clipboard().setText(text)
        return text

    def clear(self) -> None:
        self.view.clear_all()
        self.session.clear()
        if self._listening and self._capture is not None and self._capture.started_at:
            # the running stream continues: its time now counts from here
            self.session.began = time.monotonic()

    def _apply_font(self, size: int) -> None:
        font = QFont(self.view.font())
        font.setPointSize(size)
        self.view.setFont(font)
        self.view.document().setDefaultFont(font)

    def _export_dialog(self, fmt: str) -> None:
        name = time.strftime(f"captions-%Y%m%d-%H%M.{fmt}")
        path, _ = QFileDialog.getSaveFileName(self, f"Export captions as {fmt.upper()}",
                                              str(Path.home() / name),
                                              f"{FORMATS[fmt][0]} (*.{fmt})")
        if not path:
            return
        try:
            self.export(path, fmt)
            self._set_status(f"Saved {len(self.session.segments)} lines to {path}.")
        except OSError as exc:
            self._show_error(f"The captions could not be saved to {path} ({exc.strerror or exc}). "
                             "Pick a folder you can write to and export again.")

    # ------------------------------------------------------------ reactions
    def _toggle(self) -> None:
        if self._listening:
            self.stop_captions()
        else:
            self.start_captions()

    def _set_listening(self, on: bool) -> None:
        if on == self._listening:
            return
        self._listening = on
        self.start_button.setText("Stop" if on else "Start")
        self.device_box.setEnabled(not on)
        self.refresh_button.setEnabled(not on and not self._listing)
        if on:
            self._meter.start()
        else:
            self._meter.stop()
            self.level.setValue(0)
        self.listening_changed.emit(on)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def _show_error(self, message: str) -> None:
        self.last_error = message
        self._set_status(message, error=True)
        self.error.emit(message)

    def _on_devices(self, devices: list, why: str) -> None:
        self._listing = False
        self.refresh_button.setEnabled(not self._listening)
        current = self.device_box.currentData()
        self.device_box.clear()
        for dev in devices:
            self.device_box.addItem(dev.label, dev)
        if current is not None:
            i = next((i for i, d in enumerate(devices) if d.key == current.key), -1)
            if i >= 0:
                self.device_box.setCurrentIndex(i)
        if why:
            self._set_status(why, error=True)
        elif not devices:
            self._set_status("No microphone was found. Plug one in, then press ↻.", error=True)

    def select_device(self, key_or_label: str) -> bool:
        for i in range(self.device_box.count()):
            dev = self.device_box.itemData(i)
            if key_or_label in (dev.key, dev.label, dev.name):
                self.device_box.setCurrentIndex(i)
                return True
        return False

    def _on_opened(self, client, capture) -> None:
        if client is self._client:
            self._set_status(f"Listening on {capture.device.label}.")

    def _stream_began(self, client) -> float:
        cap = client.source
        return cap.started_at if cap is not None and cap.started_at else time.monotonic()

    def _on_partial(self, client, event: dict) -> None:
        if client is self._client or client in self._flushing:
            self.view.set_partial(str(event.get("text", "")).strip())

    def _on_final(self, client, event: dict) -> None:
        seg = self.session.add(self._stream_began(client), event)
        self.view.add_final(seg["text"] if seg else "")

    def _on_finished(self, client) -> None:
        self._flushing.discard(client)
        if client is self._client:        # ended by itself: an error, already shown
            self._client, self._capture = None, None
            self._set_listening(False)
        elif not self.last_error and not self._listening:
            self._set_status("Stopped. Press Start to caption again.")
        client.deleteLater()

    def _update_level(self) -> None:
        cap = self._capture
        self.level.setValue(int((cap.level if cap is not None else 0.0) * 100))

    def closeEvent(self, event) -> None:
        # Captions nobody can see help nobody; the tray icon would still say
        # "listening" otherwise.
        try:
            self.stop_captions()
        except Exception:  # closing must work even if stopping failed
            log.exception("stopping captions on close")
        super().closeEvent(event)
