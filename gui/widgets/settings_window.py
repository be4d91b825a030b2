"""The Settings window: Service, Models, Captions and General pages, with
OK, Apply and Cancel.

It edits a copy of the saved settings. Apply (and OK) validates every field:
a refused value shows its reason next to the field, the page with it comes
forward, and nothing is saved. Accepted values are saved, start-at-log-in
is written for the platform, and `applied(Settings, restart_fields)` tells
the tray what changed; the window never touches the service itself
(restart_fields, from validation.needs_restart, says whether the tray must
restart it). A model given as a folder is accepted only once the service's
`models check` has judged it (ModelsCatalog, off the UI thread); Apply
waits for that answer without blocking and then goes on by itself.

Nothing here needs a running service: the model list and folder checks run
the service's command line, the microphones are listed in a thread.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                               QHBoxLayout, QLabel, QLineEdit, QListWidget, QStackedWidget,
                               QVBoxLayout, QWidget)

from gui.controllers.model_download import ModelDownload
from gui.controllers.models_catalog import FolderCheck, ModelsCatalog
from gui.settings import autostart as autostart_module
from gui.settings import validation
from gui.settings.store import Settings, SettingsError, SettingsStore
from gui.widgets.language_names import language_name
from gui.widgets.models_page import ModelsPage
from service.languages import LANGUAGES

log = logging.getLogger("asr.tray.settings")

PAGES = ("service", "models", "captions", "general")
GEOMETRY_NAME = "settings"
FIELD_PAGE = {"model": "service", "device": "service", "compute_type": "service",
              "port": "service", "start_service": "service", "language": "captions",
              "microphone": "captions", "vad_threshold": "captions",
              "end_silence_ms": "captions", "start_at_login": "general",
              "ui_language": "general"}


def _list_microphones():
    from gui.sources.capture import list_input_devices

    return list_input_devices(rescan=False)


class SettingsWindow(QDialog):
    applied = Signal(object, list)      # Settings, the fields that need a restart
    _microphones_listed = Signal(object, str)   # from the listing thread

    def __init__(self, store: SettingsStore | None = None, catalog: ModelsCatalog | None = None,
                 download: ModelDownload | None = None, autostart=autostart_module,
                 list_microphones=_list_microphones, parent: QWidget | None = None):
        """`autostart`: an object with is_enabled() and set_enabled(bool)
        (default the platform's, gui/settings/autostart.py);
        `list_microphones`: called in a thread, returns capture.InputDevice's."""
        super().__init__(parent)
        self.setWindowTitle(self.tr("ASR Tray — Settings"))
        self.store = store or SettingsStore()
        self.catalog = catalog or ModelsCatalog(parent=self)
        self.download = download or ModelDownload(parent=self)
        self.autostart = autostart
        self._list_microphones = list_microphones
        self._listing = False
        self.saved: Settings = self.store.load()
        self._checked_folders: set[str] = set()
        self._checking: str | None = None
        self._apply_after_check: bool | None = None   # None: no Apply waits; else close after it
        self._geometry_restored = False
        self.fields: dict[str, QWidget] = {}
        self.reasons: dict[str, QLabel] = {}
        self._built = False     # fields react to edits only once every page exists

        self.page_list = QListWidget(self)
        self.pages = QStackedWidget(self)
        self.models_page = ModelsPage(self.catalog, self.download, self)
        titles = {"service": self.tr("Service"), "models": self.tr("Models"),
                  "captions": self.tr("Captions"), "general": self.tr("General")}
        builders = {"service": self._service_page, "models": lambda: self.models_page,
                    "captions": self._captions_page, "general": self._general_page}
        for name in PAGES:
            self.page_list.addItem(titles[name])
            self.pages.addWidget(builders[name]())
        self.page_list.setFixedWidth(self.page_list.sizeHintForColumn(0) + 24)
        self.page_list.currentRowChanged.connect(self._page_changed)

        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Apply
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.ok)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Apply).clicked.connect(self.apply)
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.pages, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.resize(760, 520)

        self.models_page.model_chosen.connect(self._model_chosen)
        self.catalog.checked.connect(self._folder_checked)
        self.catalog.listed.connect(self._catalog_listed)
        self._microphones_listed.connect(self.set_microphones)
        self._built = True
        self.page_list.setCurrentRow(0)
        self.load_fields(self.saved)

    # ------------------------------------------------------------ pages
    def _field(self, form: QFormLayout, name: str, title: str, widget: QWidget,
               after: QWidget | None = None) -> None:
        reason = QLabel("", widget.parent())
        reason.setWordWrap(True)
        reason.setStyleSheet("color: #b00020;")
        reason.hide()
        self.fields[name], self.reasons[name] = widget, reason
        if after is None:
            form.addRow(title, widget)
        else:
            row = QHBoxLayout()
            row.addWidget(widget, 1)
            row.addWidget(after)
            form.addRow(title, row)
        form.addRow("", reason)

    @staticmethod
    def _note(parent: QWidget, text: str) -> QLabel:
        label = QLabel(text, parent)
        label.setWordWrap(True)
        return label

    def _service_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        model = QComboBox(page)
        model.setEditable(True)
        model.setToolTip(self.tr("A Whisper model name, or a folder with a CTranslate2 model "
                                 "(see the Models page)"))
        self._field(form, "model", self.tr("Model"), model)
        device = QComboBox(page)
        for text, value in ((self.tr("Automatic (the GPU when there is one)"), "auto"),
                            (self.tr("CPU"), "cpu"), (self.tr("CUDA (NVIDIA GPU)"), "cuda")):
            device.addItem(text, value)
        self._field(form, "device", self.tr("Device"), device)
        compute = QComboBox(page)
        compute.addItem(self.tr("Default for the device (int8 on CPU, float16 on CUDA)"), "")
        for value in validation.COMPUTE_TYPES[1:]:
            compute.addItem(value, value)
        self._field(form, "compute_type", self.tr("Compute type"), compute)
        port = QLineEdit(page)
        port.setPlaceholderText(self.tr("1024 to 65535"))
        self._field(form, "port", self.tr("Port"), port)
        start = QCheckBox(self.tr("Start the speech service when ASR Tray starts"), page)
        self._field(form, "start_service", "", start)
        form.addRow(self._note(page, self.tr(
            "Changing the model, the device or the compute type restarts the speech worker "
            "(a few seconds). Changing the port restarts the service; other programs then "
            "find it at the new address.")))
        model.currentTextChanged.connect(lambda _t: self._recheck("model"))
        device.currentIndexChanged.connect(lambda _i: self._recheck("device"))
        compute.currentIndexChanged.connect(lambda _i: self._recheck("compute_type"))
        port.textChanged.connect(lambda _t: self._recheck("port"))
        return page

    def _captions_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        language = QComboBox(page)
        language.addItem(self.tr("Automatic (detect the language)"), "")
        for code in LANGUAGES:
            language.addItem(language_name(code), code)
        self._field(form, "language", self.tr("Language"), language)
        self.language_hint = self._note(page, "")
        self.language_hint.hide()
        form.addRow("", self.language_hint)
        microphone = QComboBox(page)
        microphone.addItem(self.tr("System default"), "")
        self._field(form, "microphone", self.tr("Microphone"), microphone)
        threshold = QLineEdit(page)
        threshold.setPlaceholderText(self.tr("0.05 to 0.95"))
        threshold.setToolTip(self.tr("How sure the voice detector must be that a moment is "
                                     "speech: lower hears quieter speech but also more noise."))
        self._field(form, "vad_threshold", self.tr("Speech threshold"), threshold)
        silence = QLineEdit(page)
        silence.setPlaceholderText(self.tr("100 to 3000"))
        silence.setToolTip(self.tr("How long a pause ends a line of captions."))
        self._field(form, "end_silence_ms", self.tr("End-of-speech silence"), silence,
                    after=QLabel(self.tr("ms"), page))
        form.addRow(self._note(page, self.tr("These settings apply the next time live captions "
                                             "start.")))
        language.currentIndexChanged.connect(lambda _i: self._recheck("language"))
        threshold.textChanged.connect(lambda _t: self._recheck("vad_threshold"))
        silence.textChanged.connect(lambda _t: self._recheck("end_silence_ms"))
        return page

    def _general_page(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        login = QCheckBox(self.tr("Start ASR Tray when I log in"), page)
        self._field(form, "start_at_login", "", login)
        ui = QComboBox(page)
        ui.addItem(self.tr("The system's language"), "")
        # Each language under its own name, as language pickers do.
        ui.addItem("English", "en")
        ui.addItem("简体中文", "zh_CN")
        self._field(form, "ui_language", self.tr("Interface language"), ui)
        form.addRow(self._note(page, self.tr("The interface language changes the next time "
                                             "ASR Tray starts.")))
        return page

    # ------------------------------------------------------------ public
    def open_page(self, page: str = "service") -> None:
        """Show the window on `page`, filled from the saved settings."""
        self.saved = self.store.load()
        self.load_fields(self.saved)
        self.page_list.setCurrentRow(PAGES.index(page))
        if not self._geometry_restored:
            self._geometry_restored = True
            geometry = self.store.geometry(GEOMETRY_NAME)
            if geometry:
                self.restoreGeometry(geometry)
        self.show()
        self.raise_()
        self.activateWindow()
        self.models_page.refresh()
        self.refresh_microphones()

    def load_fields(self, s: Settings) -> None:
        f = self.fields
        f["model"].setCurrentText(s.model)
        for name in ("device", "compute_type", "language", "ui_language"):
            self._select(f[name], getattr(s, name))
        self._select_microphone(s.microphone)
        f["port"].setText(str(s.port))
        f["vad_threshold"].setText(f"{s.vad_threshold:g}")
        f["end_silence_ms"].setText(str(s.end_silence_ms))
        f["start_service"].setChecked(s.start_service)
        f["start_at_login"].setChecked(self._autostart_enabled(s))
        self.models_page.set_current(s.model)
        self.message.setText("")
        self._apply_after_check = None
        for name in self.reasons:
            self._show_reason(name, None)

    def values(self) -> tuple[Settings, dict[str, str]]:
        """What the fields hold, and the reason for each refused one."""
        f = self.fields
        raw = {"model": f["model"].currentText().strip(),
               "device": f["device"].currentData(),
               "compute_type": f["compute_type"].currentData(),
               "language": f["language"].currentData(),
               "ui_language": f["ui_language"].currentData(),
               "microphone": f["microphone"].currentData() or "",
               "port": _number(f["port"].text(), int),
               "vad_threshold": _number(f["vad_threshold"].text(), float),
               "end_silence_ms": _number(f["end_silence_ms"].text(), int),
               "start_service": f["start_service"].isChecked(),
               "start_at_login": f["start_at_login"].isChecked()}
        refused = {}
        for name, value in raw.items():
            why = validation.validate(name, value)
            if why:
                refused[name] = why
        settings = replace(self.saved, **{k: v for k, v in raw.items() if k not in refused})
        return settings, refused

    def apply(self) -> bool:
        return self._apply(close=False)

    def ok(self) -> None:
        self._apply(close=True)

    def set_microphones(self, devices: list, why: str = "") -> None:
        """The microphones to offer (capture.InputDevice); the tray may also
        pass what the captions window found."""
        self._listing = False
        box = self.fields["microphone"]
        keep = box.currentData() or self.saved.microphone
        box.blockSignals(True)
        box.clear()
        box.addItem(self.tr("System default"), "")
        for dev in devices:
            box.addItem(dev.label, dev.key)
        box.blockSignals(False)
        self._select_microphone(keep)
        self.reasons["microphone"].setText(why)
        self.reasons["microphone"].setVisible(bool(why))

    def refresh_microphones(self) -> bool:
        if self._listing:
            return False
        self._listing = True
        lister = self._list_microphones

        def work():
            try:
                devices, why = lister(), ""
            except Exception as exc:   # CaptureError carries its sentence
                devices, why = [], str(exc)
            try:
                self._microphones_listed.emit(devices, why)
            except RuntimeError:
                pass   # the window is gone: nobody to tell
        threading.Thread(target=work, name="settings-microphones", daemon=True).start()
        return True

    # ------------------------------------------------------------ apply
    def _apply(self, close: bool) -> bool:
        new, refused = self.values()
        for name in self.reasons:
            if name != "microphone":
                self._show_reason(name, refused.get(name))
        if refused:
            first = next(n for n in FIELD_PAGE if n in refused)
            self.page_list.setCurrentRow(PAGES.index(FIELD_PAGE[first]))
            self.fields[first].setFocus()
            self.message.setText(self.tr("Nothing was saved: correct the values marked in red."))
            return False
        if self._needs_folder_check(new.model):
            self._apply_after_check = close
            self._start_folder_check(new.model)
            self.message.setText(self.tr("Checking the model folder before saving…"))
            return False
        if new.start_at_login != self._autostart_enabled(self.saved):
            try:
                self.autostart.set_enabled(new.start_at_login)
            except autostart_module.AutostartError as exc:
                self._show_reason("start_at_login", str(exc))
                self.page_list.setCurrentRow(PAGES.index("general"))
                self.message.setText(self.tr("Nothing was saved: correct the values marked "
                                             "in red."))
                return False
        try:
            self.store.save(new)
        except SettingsError as exc:
            self.message.setText(str(exc))
            return False
        restart = validation.needs_restart(self.saved, new)
        self.saved = new
        self.models_page.set_current(new.model)
        self.message.setText(self.tr("Saved. The service restarts to use the new settings.")
                             if restart else self.tr("Saved."))
        log.info("settings saved to %s (restart for: %s)", self.store.path, restart or "nothing")
        self.applied.emit(new, restart)
        if close:
            self.accept()
        return True

    def _autostart_enabled(self, s: Settings) -> bool:
        try:
            return bool(self.autostart.is_enabled())
        except Exception:   # an unreadable entry: what the settings say
            return s.start_at_login

    # ------------------------------------------------------------ model folder
    def _needs_folder_check(self, model: str) -> bool:
        return (validation.looks_like_path(model) and model != self.saved.model
                and model not in self._checked_folders)

    def _start_folder_check(self, path: str) -> None:
        self._checking = path
        self._show_reason("model", None)
        self.reasons["model"].setText(self.tr("Checking the folder {0}…").format(path))
        self.reasons["model"].show()
        self.catalog.check(path)

    def _folder_checked(self, result: FolderCheck) -> None:
        if result.ok:
            self._checked_folders.add(result.path)
        if result.path != self._checking:
            return      # the Models page's own check: it shows the answer
        self._checking = None
        pending, self._apply_after_check = self._apply_after_check, None
        if result.path != self.fields["model"].currentText().strip():
            self._recheck("model")      # edited meanwhile: this answer is about another folder
            return
        self._show_reason("model", None if result.ok else result.message)
        if pending is not None:
            if result.ok:
                self._apply(close=pending)
            else:
                self.page_list.setCurrentRow(PAGES.index("service"))
                self.message.setText(self.tr("Nothing was saved: correct the values marked "
                                             "in red."))

    def _model_chosen(self, model: str) -> None:
        if validation.looks_like_path(model):
            self._checked_folders.add(model)   # the Models page had it checked already
        self.fields["model"].setCurrentText(model)
        self.models_page.set_current(model)

    # ------------------------------------------------------------ small things
    def _recheck(self, name: str) -> None:
        """As the person types: the reason appears (or goes) at once."""
        if not self._built or (name == "model" and self._checking):
            return
        _settings, refused = self.values()
        self._show_reason(name, refused.get(name))
        if name in ("model", "language"):
            self._update_language_hint()

    def _update_language_hint(self) -> None:
        model = self.fields["model"].currentText().strip()
        language = self.fields["language"].currentData() or ""
        english_only = model.endswith(".en")
        for entry in self.catalog.entries:
            if model in (entry.name, entry.path):
                english_only = entry.english_only
        show = english_only and language not in ("", "en")
        self.language_hint.setText(self.tr(
            "The model {0} knows only English: choose a multilingual model (such as base) on "
            "the Models page to caption other languages.").format(model) if show else "")
        self.language_hint.setVisible(show)

    def _catalog_listed(self, entries: list) -> None:
        box = self.fields["model"]
        text = box.currentText()
        box.blockSignals(True)
        box.clear()
        for entry in entries:
            box.addItem(ModelsPage._value_of(entry))
        box.setCurrentText(text)
        box.blockSignals(False)
        self._update_language_hint()

    def _show_reason(self, name: str, why: str | None) -> None:
        label = self.reasons[name]
        label.setText(why or "")
        label.setVisible(bool(why))

    @staticmethod
    def _select(box: QComboBox, value) -> None:
        i = box.findData(value)
        box.setCurrentIndex(i if i >= 0 else 0)

    def _select_microphone(self, key: str) -> None:
        box = self.fields["microphone"]
        i = box.findData(key)
        if i < 0 and key:
            # Not connected now: keep it, so saving does not forget it.
            box.addItem(self.tr("{0} (not connected)").format(key.split("|")[-1]), key)
            i = box.count() - 1
        box.setCurrentIndex(max(i, 0))

    def _page_changed(self, row: int) -> None:
        self.pages.setCurrentIndex(row)
        if PAGES[row] == "models" and not self.catalog.entries and not self.catalog.busy():
            self.models_page.refresh()

    def done(self, result: int) -> None:
        self.store.remember_geometry(GEOMETRY_NAME, bytes(self.saveGeometry().data()))
        super().done(result)


def _number(text: str, kind: type):
    """The field's number, or its text when it is not one (the validation
    then names what was typed). A decimal comma is a decimal point."""
    text = text.strip()
    try:
        return kind(text.replace(",", ".")) if kind is float else kind(text)
    except ValueError:
        return text
