"""The live captions window: microphone picker and level, start/stop, the
running transcript, and export of the session as TXT, SRT or VTT.

Public interface (the tray wires it into its menu):
    CaptionsWindow(service_url: Callable[[], str | None] = None, parent=None,
                   captions: LiveCaptions | None = None)
    start_captions(), stop_captions(), is_listening() -> bool
    listening_changed = Signal(bool), error = Signal(str)
    export(path, fmt) -> Path     (what the Export menu's file dialog calls)
    live                          the LiveCaptions controller it shows

The window only shows and asks: the stream, the capture, the session's
timeline and the microphone scans belong to gui/controllers/live_captions.py,
which reports through signals. Nothing here blocks the event loop.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QHBoxLayout,
                               QLabel, QMenu, QProgressBar, QPushButton, QSpinBox, QTextEdit,
                               QToolButton, QVBoxLayout, QWidget)

from gui.controllers.live_captions import FORMATS, LiveCaptions, format_name

log = logging.getLogger("asr.captions")


class TranscriptView(QTextEdit):
    """Finished lines in the normal colour, the current partial after them in
    grey italics; follows the newest line unless the user scrolled up."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setPlaceholderText(self.tr("Captions appear here while you speak."))
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

    def __init__(self, service_url: Callable[[], str | None] | None = None, parent=None,
                 captions: LiveCaptions | None = None):
        super().__init__(parent)
        if captions is None:
            if service_url is None:
                raise TypeError("CaptionsWindow needs service_url or a LiveCaptions controller.")
            captions = LiveCaptions(service_url)
        if captions.parent() is None:
            captions.setParent(self)   # a stream nobody can see or stop would help nobody
        self.live = captions
        self.setWindowTitle(self.tr("Live captions — ASR Tray"))
        self.resize(720, 420)

        # -- top row: device, level, start/stop
        self.device_box = QComboBox()
        self.device_box.setMinimumWidth(260)
        self.device_box.setToolTip(self.tr("Microphone"))
        self.refresh_button = QToolButton()
        self.refresh_button.setText("↻")
        self.refresh_button.setToolTip(
            self.tr("Look for microphones again (one plugged in since)"))
        self.level = QProgressBar()
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setFixedSize(110, 12)
        self.level.setToolTip(self.tr("Input level"))
        self.start_button = QPushButton(self.tr("Start"))
        self.start_button.setDefault(True)
        top = QHBoxLayout()
        top.addWidget(QLabel(self.tr("Microphone:")))
        top.addWidget(self.device_box, 1)
        top.addWidget(self.refresh_button)
        top.addWidget(self.level)
        top.addWidget(self.start_button)

        self.status = QLabel(self.tr("Press Start to caption what the microphone hears."))
        self.status.setWordWrap(True)
        self.view = TranscriptView()

        # -- bottom row: display and session tools
        self.font_size = QSpinBox()
        self.font_size.setRange(8, 48)
        self.font_size.setSuffix(self.tr(" pt"))
        self.font_size.setValue(14)
        self.font_size.setToolTip(self.tr("Text size"))
        self.on_top = QCheckBox(self.tr("Always on top"))
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setToolTip(
            self.tr("Copy the selection, or every finished line"))
        self.clear_button = QPushButton(self.tr("Clear"))
        self.export_button = QToolButton()
        self.export_button.setText(self.tr("Export"))
        self.export_button.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.export_button)
        for fmt in FORMATS:
            menu.addAction(self.tr("{name} (.{ext})…").format(name=format_name(fmt), ext=fmt),
                           lambda f=fmt: self._export_dialog(f))
        self.export_button.setMenu(menu)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel(self.tr("Size:")))
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
        live = self.live
        live.listening.connect(self._show_listening)
        live.status.connect(self._set_status)
        live.error.connect(self._show_error)
        live.partial.connect(self.view.set_partial)
        live.final.connect(self.view.add_final)
        live.devices.connect(self._show_devices)
        live.level.connect(self._show_level)
        self._apply_font(self.font_size.value())
        self.refresh_devices(rescan=False)

    # ------------------------------------------------------------ public
    def is_listening(self) -> bool:
        return self.live.is_listening()

    def start_captions(self) -> None:
        self.live.start(self.device_box.currentData())

    def stop_captions(self) -> None:
        """Stops listening now; the last utterance still arrives (flush)."""
        self.live.stop()

    def export(self, path, fmt: str) -> Path:
        """Write the session (finished lines) as txt, srt or vtt."""
        return self.live.export(path, fmt)

    def refresh_devices(self, rescan: bool = True) -> None:
        """Look for microphones (in the controller's thread); ↻ waits for the answer."""
        if self.live.refresh_devices(rescan):
            self.refresh_button.setEnabled(False)

    def select_device(self, key_or_label: str) -> bool:
        for i in range(self.device_box.count()):
            dev = self.device_box.itemData(i)
            if key_or_label in (dev.key, dev.label, dev.name):
                self.device_box.setCurrentIndex(i)
                return True
        return False

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
            text = "\n".join(self.live.lines())
        QApplication.clipboard().setText(text)
        return text

    def clear(self) -> None:
        self.view.clear_all()
        self.live.clear()

    def _apply_font(self, size: int) -> None:
        font = QFont(self.view.font())
        font.setPointSize(size)
        self.view.setFont(font)
        self.view.document().setDefaultFont(font)

    def _export_dialog(self, fmt: str) -> None:
        name = time.strftime(f"captions-%Y%m%d-%H%M.{fmt}")
        path, _ = QFileDialog.getSaveFileName(
            self, self.tr("Export captions as {format}").format(format=fmt.upper()),
            str(Path.home() / name),
            self.tr("{name} (*.{ext})").format(name=format_name(fmt), ext=fmt))
        if path:
            self.live.save(path, fmt)   # the outcome comes back as status or error

    # ------------------------------------------------------------ reactions
    def _toggle(self) -> None:
        if self.live.is_listening():
            self.stop_captions()
        else:
            self.start_captions()

    def _show_listening(self, on: bool) -> None:
        self.start_button.setText(self.tr("Stop") if on else self.tr("Start"))
        self.device_box.setEnabled(not on)
        self.refresh_button.setEnabled(not on and not self.live.is_listing())
        if not on:
            self.level.setValue(0)
        self.listening_changed.emit(on)

    def _show_level(self, level: float) -> None:
        self.level.setValue(int(level * 100))

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;" if error else "")

    def _show_error(self, message: str) -> None:
        self._set_status(message, error=True)
        self.error.emit(message)

    def _show_devices(self, devices: list, why: str) -> None:
        self.refresh_button.setEnabled(not self.live.is_listening())
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
            self._set_status(self.tr("No microphone was found. Plug one in, then press ↻."),
                             error=True)

    def closeEvent(self, event) -> None:
        # Captions nobody can see help nobody; the tray icon would still say
        # "listening" otherwise.
        try:
            self.stop_captions()
        except Exception:  # closing must work even if stopping failed
            log.exception("stopping captions on close")
        super().closeEvent(event)
