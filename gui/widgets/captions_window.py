"""The live captions window: microphone and language pickers, level,
start/stop, the running transcript, a notice line, and export of the session
as TXT, SRT or VTT.

Public interface (the tray wires it into its menu):
    CaptionsWindow(service_url: Callable[[], str | None] = None, parent=None,
                   captions: LiveCaptions | None = None,
                   settings_store: SettingsStore | None = None)
    start_captions(), stop_captions(), is_listening() -> bool
    apply_settings(Settings)      the Settings window saved: language, microphone
                                  and the VAD values take effect at the next Start
    listening_changed = Signal(bool), error = Signal(str)
    models_requested = Signal()   the notice's "Choose a model…" (shown when connected)
    export(path, fmt) -> Path     (what the Export menu's file dialog calls)
    live                          the LiveCaptions controller it shows

What it remembers (gui/settings/store.py, per user): the text size and
always-on-top as they change, its geometry (on close, and shortly after a
move or resize, so a quit with the window open keeps it too), the folder of
the last export, and the microphone and language picked here (the same
settings the Settings window edits). The stream is opened with the picked
language and the saved VAD threshold and end-of-speech silence.

The window only shows and asks: the stream, the capture, the session's
timeline, the microphone scans and the question for the model's languages
belong to gui/controllers/live_captions.py, which reports through signals.
Nothing here blocks the event loop.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QMetaMethod, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QFrame,
                               QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton, QSpinBox,
                               QTextEdit, QToolButton, QVBoxLayout, QWidget)

from gui.controllers.live_captions import FORMATS, LiveCaptions, ModelInfo, format_name
from gui.controllers.stream_client import StreamOptions
from gui.settings.store import Settings, SettingsError, SettingsStore
from gui.settings.validation import FONT_SIZE_RANGE
from gui.widgets.language_names import language_name

log = logging.getLogger("asr.captions")

GEOMETRY_NAME = "captions"       # its key among the remembered window geometries
GEOMETRY_SAVE_MS = 500           # after the last move or resize
NOTICE_STYLE = ("QFrame#notice { background: #fff4ce; border: 1px solid #d9b44a; "
                "border-radius: 4px; } QFrame#notice QLabel { color: #4a3b00; }")



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
    models_requested = Signal()

    def __init__(self, service_url: Callable[[], str | None] | None = None, parent=None,
                 captions: LiveCaptions | None = None,
                 settings_store: SettingsStore | None = None):
        super().__init__(parent)
        if captions is None:
            if service_url is None:
                raise TypeError("CaptionsWindow needs service_url or a LiveCaptions controller.")
            captions = LiveCaptions(service_url)
        if captions.parent() is None:
            captions.setParent(self)   # a stream nobody can see or stop would help nobody
        self.live = captions
        self.store = settings_store or SettingsStore()
        self.settings: Settings = self.store.load()
        self._wanted_microphone = self.settings.microphone   # "" : the system's default
        self._wanted_language = self.settings.language       # "" : automatic
        self.export_dialog: QFileDialog | None = None
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
        self.language_box = QComboBox()
        self.language_box.setToolTip(self.tr(
            "The language spoken. Automatic detects it; an English-only model knows English "
            "only."))
        # As wide as a language name, not as "Automatic (detect the language)": the
        # window stays narrow enough to sit beside what is being captioned.
        self.language_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.language_box.setMinimumContentsLength(10)
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
        self.notice_bar, self.notice_text, self.notice_models_button = self._notice_line()
        self.view = TranscriptView()

        # -- bottom row: display, language and session tools
        self.font_size = QSpinBox()
        self.font_size.setRange(*FONT_SIZE_RANGE)
        self.font_size.setSuffix(self.tr(" pt"))
        self.font_size.setValue(self.settings.captions_font_size)
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
        bottom.addSpacing(12)
        bottom.addWidget(QLabel(self.tr("Language:")))
        bottom.addWidget(self.language_box)
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.clear_button)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        geometry = self.settings.geometries.get(GEOMETRY_NAME)
        if geometry:
            self.restoreGeometry(QByteArray(geometry))
        self.set_always_on_top(self.settings.captions_on_top)
        self._fill_languages(None)
        # Moves and resizes come in bursts: the geometry is written once they stop.
        self._geometry_timer = QTimer(self)
        self._geometry_timer.setSingleShot(True)
        self._geometry_timer.setInterval(GEOMETRY_SAVE_MS)
        self._geometry_timer.timeout.connect(self.remember_geometry)

        self.start_button.clicked.connect(self._toggle)
        self.refresh_button.clicked.connect(lambda: self.refresh_devices(rescan=True))
        self.font_size.valueChanged.connect(self._apply_font)
        self.font_size.valueChanged.connect(
            lambda size: self.store.remember("captions_font_size", size))
        self.on_top.toggled.connect(self.set_always_on_top)
        self.on_top.toggled.connect(lambda on: self.store.remember("captions_on_top", on))
        # activated: the person picked one (not the list being filled)
        self.device_box.activated.connect(self._microphone_picked)
        self.language_box.activated.connect(self._language_picked)
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
        live.model_info.connect(self._show_model)
        live.notice.connect(self._show_notice)
        self._apply_font(self.font_size.value())
        self.refresh_devices(rescan=False)

    # ------------------------------------------------------------ public
    def is_listening(self) -> bool:
        return self.live.is_listening()

    def start_captions(self) -> None:
        self.live.start(self.device_box.currentData(), self.stream_options())

    def stream_options(self) -> StreamOptions:
        """What the next stream is opened with: the picked language and the
        saved VAD settings."""
        return StreamOptions(language=self.language_box.currentData() or "",
                             vad_threshold=self.settings.vad_threshold,
                             end_silence_ms=self.settings.end_silence_ms)

    def apply_settings(self, settings: Settings) -> None:
        """The Settings window saved: its captions values count from the next
        Start. The values this window remembers itself (text size, on top,
        export folder, geometry) stay as they are here: the tray's copy of
        the settings may be older than they are."""
        old = self.settings
        self.settings = replace(old, language=settings.language,
                                microphone=settings.microphone,
                                vad_threshold=settings.vad_threshold,
                                end_silence_ms=settings.end_silence_ms)
        if settings.microphone != old.microphone:
            self._wanted_microphone = settings.microphone
            if not self.is_listening():
                if settings.microphone:
                    self.select_device(settings.microphone)
                elif self.device_box.count():
                    self.device_box.setCurrentIndex(0)   # the system's default is listed first
        if settings.language != old.language:
            self._wanted_language = settings.language
            self._fill_languages(self._offered_languages(), keep_current=False)

    def remember_geometry(self) -> None:
        self._geometry_timer.stop()
        self.store.remember_geometry(GEOMETRY_NAME, bytes(self.saveGeometry()))

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
        """A save dialog in the folder of the last export (open(), not
        exec(): the captions keep coming while it is up)."""
        if self.export_dialog is not None:
            self.export_dialog.close()
        folder = Path(self.settings.export_folder or Path.home())
        if not folder.is_dir():
            folder = Path.home()   # the last folder went away (an unplugged drive)
        name = time.strftime(f"captions-%Y%m%d-%H%M.{fmt}")
        dialog = QFileDialog(
            self, self.tr("Export captions as {format}").format(format=fmt.upper()),
            str(folder / name), self.tr("{name} (*.{ext})").format(name=format_name(fmt), ext=fmt))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix(fmt)
        dialog.fileSelected.connect(lambda path: self._export_chosen(path, fmt))
        dialog.finished.connect(lambda _result: self._export_dialog_closed(dialog))
        self.export_dialog = dialog
        dialog.open()

    def _export_dialog_closed(self, dialog: QFileDialog) -> None:
        if self.export_dialog is dialog:
            self.export_dialog = None
        dialog.deleteLater()

    def _export_chosen(self, path: str, fmt: str) -> None:
        if path and self.live.save(path, fmt):   # the outcome comes back as status or error
            folder = str(Path(path).resolve().parent)
            self.settings = replace(self.settings, export_folder=folder)
            self.store.remember("export_folder", folder)

    # ------------------------------------------------------------ notice line
    def _notice_line(self) -> tuple[QFrame, QLabel, QPushButton]:
        """A line above the captions for what the stream tells the person
        (a model that does not know the language spoken): visible, calm, no
        dialog to dismiss while speaking."""
        bar = QFrame()
        bar.setObjectName("notice")
        bar.setStyleSheet(NOTICE_STYLE)
        text = QLabel()
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        models = QPushButton(self.tr("Choose a model…"))
        models.clicked.connect(self.models_requested)
        close = QToolButton()
        close.setText("×")
        close.setToolTip(self.tr("Hide this message"))
        close.setAutoRaise(True)
        close.clicked.connect(bar.hide)
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(text, 1)
        row.addWidget(models)
        row.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        bar.hide()
        return bar, text, models

    def _show_notice(self, code: str, text: str) -> None:
        self.notice_text.setText(text)
        # The button only where someone (the tray) can open the models
        self.notice_models_button.setVisible(
            self.isSignalConnected(QMetaMethod.fromSignal(self.models_requested)))
        self.notice_bar.show()

    # ------------------------------------------------------------ language
    def _offered_languages(self) -> tuple[str, ...] | None:
        model = self.live.model
        return model.languages if model is not None else None

    def _fill_languages(self, codes, keep_current: bool = True) -> None:
        """Automatic and `codes` (the model's, by name); before the model is known,
        Automatic and the saved language. Picks the current choice when it
        is still offered (unless not `keep_current`: a new setting), else the
        wanted one, else Automatic."""
        box = self.language_box
        current = box.currentData() if box.count() and keep_current else None
        if codes is None:
            codes = [self._wanted_language] if self._wanted_language else []
        box.blockSignals(True)
        box.clear()
        box.addItem(self.tr("Automatic (detect the language)"), "")
        # By the name shown, so that typing a name's first letters finds it
        for label, code in sorted(((language_name(c), c) for c in codes),
                                  key=lambda item: item[0].casefold()):
            box.addItem(label, code)
        for choice in (current, self._wanted_language, ""):
            i = box.findData(choice) if choice is not None else -1
            if i >= 0:
                box.setCurrentIndex(i)
                break
        box.blockSignals(False)

    def _show_model(self, info: ModelInfo) -> None:
        if info.languages is None:
            return   # no model loaded yet: keep what is offered
        self._fill_languages(info.languages)
        wanted = self._wanted_language
        if wanted and wanted not in info.languages and not self.is_listening():
            self._set_status(self.tr(
                "The loaded model ({model}) does not know {language}, so captions use "
                "Automatic. To caption {language}, choose the multilingual model (base) in "
                "Settings → Models.").format(model=info.model or "?",
                                              language=language_name(wanted)))

    def _language_picked(self, _index: int) -> None:
        code = self.language_box.currentData() or ""
        self._wanted_language = code
        self._save_captions_choice("language", code)

    def _microphone_picked(self, _index: int) -> None:
        dev = self.device_box.currentData()
        if dev is not None:
            self._wanted_microphone = dev.key
            self._save_captions_choice("microphone", dev.key)

    def _save_captions_choice(self, name: str, value: str) -> None:
        """A choice made here is the setting the Settings window shows; the
        file is read afresh so that nothing else in it is put back."""
        self.settings = replace(self.settings, **{name: value})
        try:
            self.store.save(replace(self.store.load(), **{name: value}))
        except (SettingsError, ValueError) as exc:   # losing it is not worth a dialog
            log.warning("the captions %s %r could not be remembered: %s", name, value, exc)

    # ------------------------------------------------------------ reactions
    def _toggle(self) -> None:
        if self.live.is_listening():
            self.stop_captions()
        else:
            self.start_captions()

    def _show_listening(self, on: bool) -> None:
        self.start_button.setText(self.tr("Stop") if on else self.tr("Start"))
        self.device_box.setEnabled(not on)
        self.language_box.setEnabled(not on)   # a stream's language is fixed when it opens
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
        wanted = self._wanted_microphone
        found = bool(wanted) and self.select_device(wanted)
        if not found and current is not None:
            i = next((i for i, d in enumerate(devices) if d.key == current.key), -1)
            if i >= 0:
                self.device_box.setCurrentIndex(i)
        if why:
            self._set_status(why, error=True)
        elif not devices:
            self._set_status(self.tr("No microphone was found. Plug one in, then press ↻."),
                             error=True)
        elif wanted and not found:
            # Calm: captions work with the default; the saved choice is kept for when it is back.
            self._set_status(self.tr(
                "The microphone chosen before ({wanted}) is not connected, so {device} is used. "
                "Plug it in and press ↻ to use it again.").format(
                    wanted=wanted.split("|", 1)[-1], device=self.device_box.currentText()))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self.is_listening():
            self.live.fetch_model_info()   # the languages to offer (in a thread)

    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        if self.isVisible():
            self._geometry_timer.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._geometry_timer.start()

    def closeEvent(self, event) -> None:
        # Captions nobody can see help nobody; the tray icon would still say
        # "listening" otherwise.
        try:
            self.stop_captions()
        except Exception:  # closing must work even if stopping failed
            log.exception("stopping captions on close")
        self.remember_geometry()
        super().closeEvent(event)
