"""The live captions window: microphone and language pickers, level,
start/stop, the running transcript (timestamps on or off, a gap between
utterances, a sentence the service cut kept as one), a service line and a
notice line, the subtitle overlay's switch, and export of the session as
TXT, SRT or VTT.

Public interface (the tray wires it into its menu):
    CaptionsWindow(service_url: Callable[[], str | None] = None, parent=None,
                   captions: LiveCaptions | None = None,
                   settings_store: SettingsStore | None = None)
    start_captions(), stop_captions(), is_listening() -> bool
    apply_settings(Settings)      the Settings window saved: language, microphone
                                  and the VAD values take effect at the next Start
    listening_changed = Signal(bool), error = Signal(str)
    models_requested = Signal()   the notice's "Choose a model…" (shown when connected)
    set_service_state(state)      "running" | "starting" | "stopped", from the tray;
                                  stopped shows a line with a "Start the service" button
    start_service_requested = Signal()   that button
    show_overlay(on)              the subtitle overlay (gui/widgets/subtitle_overlay.py)
    snapshot() -> dict            what a person sees, for the tray's test snapshot
    export(path, fmt) -> Path     (what the Export menu's file dialog calls)
    live                          the LiveCaptions controller it shows

What it remembers (gui/settings/store.py, per user): the text size and
always-on-top as they change, its geometry (on close, and shortly after a
move or resize, so a quit with the window open keeps it too), the overlay's
geometry, the folder of the last export, and the microphone and language
picked here (the same settings the Settings window edits); timestamps on or
off too, once the store has the key (TIMESTAMPS_SETTING). The stream is
opened with the picked language and the saved VAD threshold and
end-of-speech silence.

The window only shows and asks: the stream, the capture, the session's
timeline, the microphone scans and the question for the model's languages
belong to gui/controllers/live_captions.py, which reports through signals.
Nothing here blocks the event loop.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QMetaMethod, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QTextBlockFormat, QTextCharFormat,
                           QTextCursor)
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QFileDialog, QFrame,
                               QHBoxLayout, QLabel, QMenu, QProgressBar, QPushButton, QSpinBox,
                               QTextEdit, QToolButton, QVBoxLayout, QWidget)

from gui.controllers.live_captions import FORMATS, LiveCaptions, ModelInfo, format_name
from gui.controllers.stream_client import StreamOptions
from gui.settings.store import REMEMBERED, Settings, SettingsError, SettingsStore
from gui.settings.validation import FONT_SIZE_RANGE
from gui.widgets.language_names import language_name
from gui.widgets.subtitle_overlay import SubtitleOverlay

log = logging.getLogger("asr.captions")

GEOMETRY_NAME = "captions"       # its key among the remembered window geometries
GEOMETRY_SAVE_MS = 500           # after the last move or resize
NOTICE_STYLE = ("QFrame#notice { background: #fff4ce; border: 1px solid #d9b44a; "
                "border-radius: 4px; } QFrame#notice QLabel { color: #4a3b00; }")
STAMP_COLOUR = "#7f8c8d"         # timestamps: readable, and quieter than the words
GAP_LINES = 0.5                  # the gap between utterances, in lines of the text size
OVERLAY_SCALE = 1.5              # the overlay's text against the window's: read from afar
# Timestamps on or off is remembered once gui/settings/store.py has this key
# (a bool among REMEMBERED); until then it lasts as long as the window.
TIMESTAMPS_SETTING = "captions_timestamps"
DEFAULT_TIMESTAMPS = True



def format_stamp(seconds: float) -> str:
    """A line's time since the captions began: "[00:12]", "[1:02:05]" past an hour."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"[{hours}:{minutes:02d}:{secs:02d}]" if hours else f"[{minutes:02d}:{secs:02d}]"


@dataclass
class Paragraph:
    """Finished lines shown as one paragraph: one line, or the lines of
    continuous speech the service cut (each cut line continues here)."""
    start: float | None            # seconds since the session began; None: not known
    texts: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(self.texts)


class TranscriptView(QTextEdit):
    """Finished lines as paragraphs with a gap between them (a block margin,
    not a blank line: a copy picks up no empty lines), each after its
    timestamp in a muted colour when timestamps are on; a line that follows
    a cut continues the paragraph before it, so a sentence the service cut
    reads as one. The current partial comes after them in grey italics.
    Follows the newest line unless the user scrolled up.

    The paragraphs are kept as data too: turning timestamps on or off, or a
    new text size, draws them again."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAcceptRichText(False)
        self.setPlaceholderText(self.tr("Captions appear here while you speak."))
        self._paragraphs: list[Paragraph] = []
        self._continues = False               # the last finished line was cut: the next joins it
        self._partial = ""                    # the partial shown now
        self._partial_at: int | None = None   # document position where the partial begins
        self._timestamps = True
        self.final_format = QTextCharFormat()
        self.stamp_format = QTextCharFormat()
        self.stamp_format.setForeground(QColor(STAMP_COLOUR))
        self.partial_format = QTextCharFormat()
        self.partial_format.setForeground(QColor("#8a8a8a"))
        self.partial_format.setFontItalic(True)

    # ------------------------------------------------------------ what it shows
    def add_line(self, line: dict) -> None:
        """A finished line ({"text", "start", "cut"?}); an empty one only
        ends the partial."""
        text = str(line.get("text") or "").strip()

        def change(cursor):
            self._drop_partial(cursor)
            if text:
                self._write_line(cursor, text, line.get("start"))
                self._continues = bool(line.get("cut"))
        self._edit(change)

    def add_final(self, text: str) -> None:
        """A finished line without timing (no timestamp)."""
        self.add_line({"text": text})

    def set_partial(self, text: str) -> None:
        text = text.strip()

        def change(cursor):
            self._drop_partial(cursor)
            self._write_partial(cursor, text)
        self._edit(change)

    def set_timestamps(self, on: bool) -> None:
        if on != self._timestamps:
            self._timestamps = on
            self.redraw()

    def timestamps(self) -> bool:
        return self._timestamps

    def redraw(self) -> None:
        """Everything again from the paragraphs (timestamps toggled, new text size)."""
        def change(cursor):
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.removeSelectedText()
            cursor.setBlockFormat(QTextBlockFormat())
            self._partial_at = None
            for par in self._paragraphs:
                self._start_paragraph(cursor, par.start)
                cursor.insertText(par.text(), self.final_format)
            self._write_partial(cursor, self._partial)
        self._edit(change)

    def partial_text(self) -> str:
        if self._partial_at is None:
            return ""
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._partial_at)
        cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n").strip()

    def final_text(self) -> str:
        """The finished lines as shown, one paragraph a line, without the timestamps."""
        return "\n".join(par.text() for par in self._paragraphs)

    def clear_all(self) -> None:
        self._paragraphs.clear()
        self._continues = False
        self._partial = ""
        self._partial_at = None
        self.clear()

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    # ------------------------------------------------------------ inside
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

    def _write_line(self, cursor: QTextCursor, text: str, start) -> None:
        cursor.movePosition(QTextCursor.End)
        if self._continues and self._paragraphs:
            self._paragraphs[-1].texts.append(text)
            cursor.insertText(" " + text, self.final_format)
            return
        start = float(start) if isinstance(start, (int, float)) else None
        self._paragraphs.append(Paragraph(start, [text]))
        self._start_paragraph(cursor, start)
        cursor.insertText(text, self.final_format)

    def _write_partial(self, cursor: QTextCursor, text: str) -> None:
        self._partial = text
        if not text:
            return
        cursor.movePosition(QTextCursor.End)
        self._partial_at = cursor.position()
        if self._continues and self._paragraphs:
            cursor.insertText(" " + text, self.partial_format)   # the same sentence goes on
        else:
            self._start_paragraph(cursor, None)
            cursor.insertText(text, self.partial_format)

    def _start_paragraph(self, cursor: QTextCursor, start: float | None) -> None:
        """A new block at the end, a gap above it unless it is the first,
        and the timestamp of `start` when timestamps are on."""
        cursor.movePosition(QTextCursor.End)
        fmt = QTextBlockFormat()
        if cursor.position() > 0:
            fmt.setTopMargin(self._gap())
            cursor.insertBlock(fmt, self.final_format)
        else:
            cursor.setBlockFormat(fmt)
        if self._timestamps and start is not None:
            cursor.insertText(format_stamp(start) + " ", self.stamp_format)

    def _gap(self) -> float:
        return round(QFontMetrics(self.document().defaultFont()).lineSpacing() * GAP_LINES)

    def _drop_partial(self, cursor: QTextCursor) -> None:
        self._partial = ""
        if self._partial_at is not None:
            cursor.setPosition(self._partial_at)
            cursor.movePosition(QTextCursor.End, QTextCursor.KeepAnchor)
            cursor.removeSelectedText()
            self._partial_at = None


class CaptionsWindow(QWidget):
    listening_changed = Signal(bool)
    error = Signal(str)
    models_requested = Signal()
    start_service_requested = Signal()

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
        self.service_bar, self.service_text, self.service_button = self._service_line()
        self.notice_bar, self.notice_text, self.notice_models_button = self._notice_line()
        self.view = TranscriptView()

        # -- bottom rows: display; language and session tools
        self.font_size = QSpinBox()
        self.font_size.setRange(*FONT_SIZE_RANGE)
        self.font_size.setSuffix(self.tr(" pt"))
        self.font_size.setValue(self.settings.captions_font_size)
        self.font_size.setToolTip(self.tr("Text size"))
        self.on_top = QCheckBox(self.tr("Always on top"))
        self.timestamps_box = QCheckBox(self.tr("Timestamps"))
        self.timestamps_box.setToolTip(self.tr(
            "Show before each line when it was said (time since the captions began)"))
        self.timestamps_box.setChecked(self._remembered_timestamps())
        self.view.set_timestamps(self.timestamps_box.isChecked())
        self.overlay_box = QCheckBox(self.tr("Subtitle overlay"))
        self.overlay_box.setToolTip(self.tr(
            "Show the last two lines in a strip above every window. Drag it to move it, "
            "drag its edges to resize it."))
        # No parent (see SubtitleOverlay); it goes when this window goes.
        self.overlay = SubtitleOverlay(self.store)
        self.destroyed.connect(self.overlay.deleteLater)
        self.overlay.hidden_by_user.connect(self._overlay_hidden)
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
        # Two rows: in one, the window would be too wide to sit beside what is captioned.
        display = QHBoxLayout()
        display.addWidget(QLabel(self.tr("Size:")))
        display.addWidget(self.font_size)
        display.addWidget(self.on_top)
        display.addWidget(self.timestamps_box)
        display.addWidget(self.overlay_box)
        display.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel(self.tr("Language:")))
        bottom.addWidget(self.language_box)
        bottom.addStretch(1)
        bottom.addWidget(self.copy_button)
        bottom.addWidget(self.clear_button)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.service_bar)
        layout.addWidget(self.notice_bar)
        layout.addWidget(self.view, 1)
        layout.addLayout(display)
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
        self.timestamps_box.toggled.connect(self._timestamps_toggled)
        self.overlay_box.toggled.connect(self.show_overlay)
        # activated: the person picked one (not the list being filled)
        self.device_box.activated.connect(self._microphone_picked)
        self.language_box.activated.connect(self._language_picked)
        self.copy_button.clicked.connect(self.copy)
        self.clear_button.clicked.connect(self.clear)
        live = self.live
        live.listening.connect(self._show_listening)
        live.status.connect(self._set_status)
        live.error.connect(self._show_error)
        live.partial.connect(self._show_partial)
        live.finished_line.connect(self._show_line)   # after `final`: the line with its timing
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

    def set_service_state(self, state: str) -> None:
        """What the tray knows of the ASR service: "running", "starting" or
        "stopped" ("error" counts as stopped). Stopped shows a line with a
        button that asks for it to start; starting says so; running (and
        anything else: the controller's own status line covers a restart)
        hides the line."""
        if state in ("stopped", "error"):
            self.service_text.setText(self.tr("The ASR service is not running. Captions need it."))
            self.service_button.show()
            self.service_bar.show()
        elif state == "starting":
            self.service_text.setText(self.tr("Starting the ASR service…"))
            self.service_button.hide()
            self.service_bar.show()
        else:
            self.service_bar.hide()

    def show_overlay(self, on: bool) -> None:
        """The subtitle overlay on or off (its check box follows)."""
        if self.overlay_box.isChecked() != on:
            self.overlay_box.setChecked(on)   # toggled: back here
            return
        if on:
            self.overlay.show_here(self.screen())
        else:
            self.overlay.hide()

    def snapshot(self) -> dict:
        """What a person sees, for the tray's test snapshot (no I/O)."""
        dev = self.device_box.currentData()
        overlay = self.overlay
        shown = overlay.isVisible()
        where = overlay.geometry()
        return {
            "visible": self.isVisible(),
            "listening": self.is_listening(),
            "source": {"key": dev.key, "label": dev.label} if dev is not None else None,
            "lines": [{"text": seg["text"], "start": seg["start"], "end": seg["end"]}
                      for seg in self.live.session.segments],
            "partial": self.view.partial_text(),
            "status": self.status.text(),
            "timestamps": self.timestamps_box.isChecked(),
            "overlay": {"visible": shown, "lines": overlay.lines(),
                        "geometry": [where.x(), where.y(), where.width(), where.height()]
                        if shown else None},
        }

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
            text = self.view.final_text()   # a sentence cut by the service stays on one line
        QApplication.clipboard().setText(text)
        return text

    def clear(self) -> None:
        self.view.clear_all()
        self.overlay.clear()
        self.live.clear()

    def _apply_font(self, size: int) -> None:
        font = QFont(self.view.font())
        font.setPointSize(size)
        self.view.setFont(font)
        self.view.document().setDefaultFont(font)
        self.view.redraw()   # the gaps between lines follow the text size
        self.overlay.set_font_size(round(size * OVERLAY_SCALE))

    def _remembered_timestamps(self) -> bool:
        return bool(getattr(self.settings, TIMESTAMPS_SETTING, DEFAULT_TIMESTAMPS))

    def _timestamps_toggled(self, on: bool) -> None:
        self.view.set_timestamps(on)
        if TIMESTAMPS_SETTING in REMEMBERED:   # once gui/settings/store.py keeps it
            self.store.remember(TIMESTAMPS_SETTING, on)

    def _overlay_hidden(self) -> None:
        self.overlay_box.setChecked(False)   # its own menu hid it: the box says so

    def _show_partial(self, text: str) -> None:
        self.view.set_partial(text)
        self.overlay.set_partial(text)

    def _show_line(self, line: dict) -> None:
        self.view.add_line(line)
        self.overlay.add_line(str(line.get("text") or ""))

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

    # ------------------------------------------------------------ service line
    def _service_line(self) -> tuple[QFrame, QLabel, QPushButton]:
        """A line above the captions while the service they need is not
        running, with the way to start it (set_service_state)."""
        bar = QFrame()
        bar.setObjectName("service")
        bar.setStyleSheet(NOTICE_STYLE.replace("#notice", "#service"))
        text = QLabel()
        text.setWordWrap(True)
        start = QPushButton(self.tr("Start the service"))
        start.clicked.connect(self.start_service_requested)
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(text, 1)
        row.addWidget(start)
        bar.hide()   # until the tray says otherwise: a window without a tray looks as before
        return bar, text, start

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
        self.show_overlay(False)   # it belongs to the captions: it goes with them
        self.remember_geometry()
        super().closeEvent(event)
