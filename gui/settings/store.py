"""The user's settings: one typed dataclass, kept per user in an INI file.

Where: `config_dir()/settings.ini`, written through QSettings(IniFormat) so
Qt's own INI rules apply (quoting, UTF-8, atomic writes). The environment
variable ASR_TRAY_CONFIG_DIR replaces the folder (tests always set it).

Reading never fails: a missing file gives the defaults; a damaged file
gives the defaults and a logged line; a value of the wrong type, or one the
validation refuses, gives that field's default and a logged line; keys we do
not know are left alone (a newer version's settings survive an older one
saving).

Two ways in: save() writes what a person edits in the Settings window (and
refuses a refused value: the window shows the reason before it gets here);
remember() and remember_geometry() write one value kept without asking
(captions font size and always-on-top, the last export folder, window
geometries) the moment it changes, so neither overwrites the other's newer
values. Both raise or log SettingsError's sentence when the file cannot be
written.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QSettings

from gui.settings import validation
from service import languages
from service.config import BUNDLED_MODEL, ServiceConfig

# lupdate (packaging/i18n.py) finds the calls written translate("Context", "text").
translate = QCoreApplication.translate

log = logging.getLogger("asr.tray.settings")

CONFIG_DIR_ENV = "ASR_TRAY_CONFIG_DIR"
APP_DIR = "asr-tray"
FILE_NAME = "settings.ini"

# The live stream's own defaults (service/worker/vad.py THRESHOLD and
# streaming.Tuning.min_silence_s): the tray may not import the worker, so the
# values are written here and tests/test_settings_store.py compares them.
DEFAULT_VAD_THRESHOLD = 0.5
DEFAULT_END_SILENCE_MS = 300
DEFAULT_FONT_SIZE = 14          # the captions window's text size today


@dataclass
class Settings:
    # Service (changing model, device, compute_type or port restarts the service)
    model: str = BUNDLED_MODEL     # a faster-whisper name or a CTranslate2 folder
    device: str = "auto"           # auto | cpu | cuda
    compute_type: str = ""         # "": the device's default (int8 on CPU, float16 on CUDA)
    port: int = ServiceConfig().port
    start_service: bool = True     # start the service when the app starts
    # Captions (the stream's query parameters; used when captions start)
    language: str = ""             # "": detect; else a Whisper language code
    microphone: str = ""           # "": the system default; else a device key or name
    vad_threshold: float = DEFAULT_VAD_THRESHOLD
    end_silence_ms: int = DEFAULT_END_SILENCE_MS
    # General
    start_at_login: bool = False
    ui_language: str = ""          # "": the system's; "en" or "zh_CN"
    # Remembered without asking
    captions_font_size: int = DEFAULT_FONT_SIZE
    captions_on_top: bool = False
    captions_timestamps: bool = True
    export_folder: str = ""        # the folder of the last export ("": the home folder)
    geometries: dict[str, bytes] = field(default_factory=dict)   # window name -> saveGeometry()


# Each field's key in the file: [group] then key. (Not "general": QSettings
# keeps a group of that name for keys outside any group.)
KEYS = {
    "model": "service/model", "device": "service/device",
    "compute_type": "service/compute_type", "port": "service/port",
    "start_service": "service/start_with_app",
    "language": "captions/language", "microphone": "captions/microphone",
    "vad_threshold": "captions/vad_threshold", "end_silence_ms": "captions/end_silence_ms",
    "captions_font_size": "captions/font_size", "captions_on_top": "captions/always_on_top",
    "captions_timestamps": "captions/timestamps",
    "export_folder": "captions/export_folder",
    "start_at_login": "app/start_at_login", "ui_language": "app/ui_language",
}
GEOMETRY_GROUP = "windows"
REMEMBERED = ("captions_font_size", "captions_on_top", "captions_timestamps", "export_folder")
EDITED = tuple(name for name in KEYS if name not in REMEMBERED)   # what the window edits


class SettingsError(Exception):
    """A sentence for the user: what could not be saved, why, what to do."""


def default_config_dir(platform: str = sys.platform, environ=os.environ,
                       home: Path | None = None) -> Path:
    """The per-user configuration folder of each platform, as Qt's
    GenericConfigLocation would give it but with the Roaming %APPDATA% on
    Windows (settings follow a roaming profile) and without depending on the
    QApplication's names (gui/app.py reads the settings before it has them)."""
    home = Path.home() if home is None else home
    if platform == "win32":
        base = environ.get("APPDATA")
        return (Path(base) if base else home / "AppData" / "Roaming") / APP_DIR
    if platform == "darwin":
        return home / "Library" / "Preferences" / APP_DIR
    xdg = environ.get("XDG_CONFIG_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else home / ".config") / APP_DIR


def config_dir() -> Path:
    given = os.environ.get(CONFIG_DIR_ENV)
    return Path(given) if given else default_config_dir()


def settings_path() -> Path:
    return config_dir() / FILE_NAME



# ------------------------------------------------------------ reading values
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _convert(kind: type, raw):
    """INI values come back as text (QSettings keeps no types): the field's
    type from it, or ValueError."""
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    if not isinstance(raw, str):
        raise ValueError("not text")
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("not true or false")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return raw


_KINDS = {f.name: {"str": str, "int": int, "float": float, "bool": bool}.get(f.type, str)
          for f in fields(Settings) if f.name in KEYS}


def _tidy(name: str, value):
    """What a person may have written by hand, as the window would write it."""
    if name == "language":
        try:
            return languages.normalize(value) or ""
        except ValueError:
            return value
    if name == "vad_threshold":
        return round(value, 3)
    return value


class SettingsStore:
    """One settings file. Use it from the UI thread only (QSettings objects
    are cheap: each call opens its own, so another writer's keys survive)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else settings_path()

    def _qsettings(self) -> QSettings:
        return QSettings(str(self.path), QSettings.Format.IniFormat)

    def load(self) -> Settings:
        defaults = Settings()
        if not self.path.exists():
            return defaults
        qs = self._qsettings()
        if qs.status() != QSettings.Status.NoError:
            log.warning("the settings file %s could not be read (%s): using the defaults; "
                        "it is rewritten on the next save", self.path, qs.status().name)
            return defaults
        values = {}
        for name, key in KEYS.items():
            raw = qs.value(key)
            if raw is None:
                continue
            default = getattr(defaults, name)
            try:
                value = _tidy(name, _convert(_KINDS[name], raw))
            except ValueError:
                log.warning("settings %s: %s = %r is not a %s: using %r", self.path, key,
                            raw, _KINDS[name].__name__, default)
                continue
            why = validation.validate(name, value, check_folders=False)
            if why:
                log.warning("settings %s: %s = %r refused (%s): using %r", self.path, key,
                            raw, why, default)
                continue
            values[name] = value
        values["geometries"] = self._geometries(qs)
        return replace(defaults, **values)

    @staticmethod
    def _geometries(qs: QSettings) -> dict[str, bytes]:
        found = {}
        qs.beginGroup(GEOMETRY_GROUP)
        for name in qs.childKeys():
            raw = qs.value(name)
            if isinstance(raw, QByteArray):
                found[name] = bytes(raw.data())
        qs.endGroup()
        return found

    def save(self, settings: Settings) -> None:
        """Write the fields a person edits (EDITED). The remembered ones and
        the geometries are written only by remember() and remember_geometry(),
        when they change: a Settings loaded a while ago must not put back an
        older font size. Raises ValueError for a refused value (a bug of the
        caller: the window validates first) and SettingsError when the file
        cannot be written."""
        refused = {f: why for f, why in validation.problems(settings, check_folders=False).items()
                   if f in EDITED}
        if refused:
            raise ValueError(f"refusing to save settings with refused values: {refused}")
        qs = self._open_for_writing()
        for name in EDITED:
            qs.setValue(KEYS[name], getattr(settings, name))
        self._sync(qs)

    def remember(self, name: str, value) -> None:
        """One of the values kept without asking (REMEMBERED): written at
        once, nothing else touched. A failure is a log line: losing a font
        size is not worth interrupting anyone."""
        if name not in REMEMBERED:
            raise KeyError(f"{name!r} is not remembered without asking; use save()")
        why = validation.validate(name, value)
        if why:
            log.warning("not remembering %s = %r: %s", name, value, why)
            return
        self._remember(KEYS[name], value)

    def geometry(self, window: str) -> bytes | None:
        """What QWidget.saveGeometry() gave for `window` last time, or None."""
        if not self.path.exists():
            return None
        raw = self._qsettings().value(f"{GEOMETRY_GROUP}/{window}")
        return bytes(raw.data()) if isinstance(raw, QByteArray) else None

    def remember_geometry(self, window: str, data: bytes) -> None:
        self._remember(f"{GEOMETRY_GROUP}/{window}", QByteArray(bytes(data)))

    def _remember(self, key: str, value) -> None:
        try:
            qs = self._open_for_writing()
            qs.setValue(key, value)
            self._sync(qs)
        except SettingsError as exc:
            log.warning("%s", exc)

    def _open_for_writing(self) -> QSettings:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SettingsError(self._cannot_write(exc.strerror or str(exc))) from None
        return self._qsettings()

    def _sync(self, qs: QSettings) -> None:
        qs.sync()
        # FormatError only says the old file was damaged; it is rewritten all the same.
        if qs.status() == QSettings.Status.AccessError:
            raise SettingsError(self._cannot_write(translate("Settings", "access denied")))

    def _cannot_write(self, why: str) -> str:
        return translate("Settings", "The settings could not be saved to {0} ({1}). Check that "
                                     "the folder exists and that you may write to it, then try "
                                     "again.").format(self.path, why)


def load() -> Settings:
    """The settings of this user (the defaults where the file has none)."""
    return SettingsStore().load()


def save(settings: Settings) -> None:
    SettingsStore().save(settings)
