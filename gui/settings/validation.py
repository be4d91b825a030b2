"""Which setting values are acceptable, and the sentence for one that is not.

Plain Python plus Qt's translation function (no widgets, no I/O beyond a
stat of a model folder), so the store, the window and tests share one rule.
The deep check of a model folder (is it a CTranslate2 Whisper model?) is not
here: it needs the service's `asr-service models check PATH`, which the
window runs off the UI thread (gui/controllers/models_catalog.py).
"""
from __future__ import annotations

import math
import os

from PySide6.QtCore import QCoreApplication

from service.languages import LANGUAGES
from service.models import names

# lupdate (packaging/i18n.py) finds the calls written translate("Context", "text").
translate = QCoreApplication.translate


DEVICES = ("auto", "cpu", "cuda")
# "" is CTranslate2's default for the device: int8 on a CPU, float16 on CUDA.
COMPUTE_TYPES = ("", "int8", "int8_float16", "int16", "float16", "float32")
UI_LANGUAGES = ("", "en", "zh_CN")    # "" follows the system's locale
PORT_RANGE = (1024, 65535)            # below 1024 needs administrator rights
# The live stream's query parameters vad_threshold / end_silence_ms accept these.
THRESHOLD_RANGE = (0.05, 0.95)
END_SILENCE_RANGE_MS = (100, 3000)
FONT_SIZE_RANGE = (8, 48)             # what the captions window's size box offers

# faster-whisper's model names, as the service knows them (service/models/names.py:
# plain data, so the tray reads it without the model stack).
WHISPER_NAMES = tuple(names.HUB_REPOS)

# Fields whose change takes a new service process (the model, the device and
# the compute type are fixed when the worker loads; the port when it binds).
RESTART_FIELDS = ("model", "device", "compute_type", "port")



def looks_like_path(value: str) -> bool:
    """A folder, not a model name: the service's own rule (a separator, or
    a leading '.' or '~')."""
    return names.looks_like_path(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _model(value, check_folders: bool) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return translate("Settings", "Choose a model: the name of a Whisper model (such as "
                                     "tiny.en or base) or a folder that holds a CTranslate2 "
                                     "model.")
    if value in WHISPER_NAMES:
        return None
    if looks_like_path(value):
        if check_folders and not os.path.isdir(os.path.expanduser(value)):
            return translate("Settings", "The folder {0} does not exist. Choose a folder that "
                                         "holds a CTranslate2 model, or pick a model from the "
                                         "list.").format(value)
        return None
    return translate("Settings", "'{0}' is neither a Whisper model name (such as tiny.en, base or "
                                 "large-v3) nor a folder on this computer. Pick a model from the "
                                 "list or choose a folder.").format(value)


def _port(value) -> str | None:
    low, high = PORT_RANGE
    if not _is_int(value) or not low <= value <= high:
        text = translate("Settings", "The port must be a whole number from 1024 to 65535 ({0} "
                                     "is not): ports below 1024 need administrator rights.")
        return text.format(value)
    return None


def _threshold(value) -> str | None:
    low, high = THRESHOLD_RANGE
    if not _is_number(value) or not low <= value <= high:
        return translate("Settings", "The speech threshold must be a number from 0.05 to 0.95 "
                                     "({0} is not): lower hears quieter speech but also more "
                                     "noise.").format(value)
    return None


def _end_silence(value) -> str | None:
    low, high = END_SILENCE_RANGE_MS
    if not _is_int(value) or not low <= value <= high:
        return translate("Settings", "The end-of-speech silence must be a whole number of "
                                     "milliseconds from 100 to 3000 ({0} is not): shorter ends a "
                                     "line sooner, longer waits through pauses.").format(value)
    return None


def _device(value) -> str | None:
    if value not in DEVICES:
        return translate("Settings", "The device must be Automatic, CPU or CUDA, "
                                     "not '{0}'.").format(value)
    return None


def _compute_type(value) -> str | None:
    if value not in COMPUTE_TYPES:
        text = translate("Settings", "'{0}' is not a compute type ASR Tray offers: choose "
                                     "Default, int8, int8_float16, int16, float16 or float32.")
        return text.format(value)
    return None


def _language(value) -> str | None:
    if not isinstance(value, str) or (value and value not in LANGUAGES):
        return translate("Settings", "'{0}' is not a language Whisper knows: choose one from the "
                                     "list, or Automatic to detect the language.").format(value)
    return None


def _ui_language(value) -> str | None:
    if value not in UI_LANGUAGES:
        return translate("Settings", "The interface language must be the system's, English or "
                                     "Simplified Chinese, not '{0}'.").format(value)
    return None


def _font_size(value) -> str | None:
    low, high = FONT_SIZE_RANGE
    if not _is_int(value) or not low <= value <= high:
        return translate("Settings", "The captions text size must be a whole number from 8 to 48 "
                                     "points ({0} is not).").format(value)
    return None


def _text(value) -> str | None:
    if not isinstance(value, str):
        return translate("Settings", "This setting must be text, not {0}.").format(value)
    return None


def _switch(value) -> str | None:
    if not isinstance(value, bool):
        return translate("Settings", "This setting must be on or off, not {0}.").format(value)
    return None


_RULES = {
    "port": _port, "vad_threshold": _threshold, "end_silence_ms": _end_silence,
    "device": _device, "compute_type": _compute_type, "language": _language,
    "ui_language": _ui_language, "captions_font_size": _font_size,
    "microphone": _text, "export_folder": _text,
    "start_service": _switch, "start_at_login": _switch, "captions_on_top": _switch, "captions_timestamps": _switch,
}


def validate(field: str, value, check_folders: bool = True) -> str | None:
    """None when `value` is acceptable for `field`, else the sentence saying
    why not (what is wrong and what to enter instead). `check_folders`: a
    model given as a folder must exist (off when reading the file: a folder
    that went away is the service's sentence to say, not a silent reset)."""
    if field == "model":
        return _model(value, check_folders)
    rule = _RULES.get(field)
    if rule is None:
        raise KeyError(f"no setting named {field!r}")
    return rule(value)


def problems(values, check_folders: bool = True) -> dict[str, str]:
    """Every refused field of a Settings (or any object with those fields)."""
    found = {}
    for field in ("model", *_RULES):
        why = validate(field, getattr(values, field), check_folders)
        if why:
            found[field] = why
    return found


def needs_restart(old, new) -> list[str]:
    """The fields, in RESTART_FIELDS order, whose change takes a new service
    (and so a new speech worker)."""
    return [f for f in RESTART_FIELDS if getattr(old, f) != getattr(new, f)]
