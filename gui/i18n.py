"""The interface language: which translations the tray loads, and the words
that arrive as data (roles, states) shown in the person's language.

`install(app, choice)` loads our catalogue (resources/i18n/asr_tray_<lang>.qm)
and Qt's own (qtbase_<lang>.qm, so standard buttons such as "Save" and
"Cancel" follow). `choice` is "" for the system's locale, "en" or "zh_CN".
English is the source language: it needs no catalogue of ours. A catalogue
that is missing is a log line, never a failure: the interface then stays
English, which is always complete.

The language applies at start-up (gui/app.py calls `install` right after the
QApplication exists); a change in Settings takes effect at the next start.

`word(token)` translates the tokens the service and the safety layers hand us
as data ("worker", "running", "no GPU"): they stay English in snapshots, logs
and JSON, and only the widgets show them translated.
"""
from __future__ import annotations

import logging
import os
from importlib import resources

from PySide6.QtCore import (QT_TRANSLATE_NOOP, QCoreApplication, QLibraryInfo, QLocale,
                            QTranslator)

log = logging.getLogger("asr.tray.i18n")

ENV = "ASR_TRAY_UI_LANGUAGE"      # overrides the setting (tests, a one-off run)
CHOICES = ("", "en", "zh_CN")      # "" = the system's locale
CATALOGUE = "asr_tray"             # resources/i18n/asr_tray_<lang>.qm

_installed: list[QTranslator] = []   # kept referenced: Qt does not own installed translators


def chosen_language() -> str:
    """The language to start in: $ASR_TRAY_UI_LANGUAGE, else the saved
    setting, else "" (the system's locale)."""
    if ENV in os.environ:
        return os.environ[ENV].strip()
    try:
        # The settings store may not exist in every build; without it: the system's locale.
        from gui.settings import store
        return str(getattr(store.load(), "ui_language", "") or "")
    except Exception as exc:
        log.debug("no saved interface language (%s): using the system's locale", exc)
        return ""


def catalogue_dir() -> str | None:
    """resources/i18n as a folder, from a source tree or an installed package."""
    try:
        folder = resources.files("resources") / "i18n"
    except (ImportError, TypeError) as exc:
        log.warning("the translations folder could not be found (%s): the interface stays English",
                    exc)
        return None
    return str(folder) if folder.is_dir() else None


def locale_for(choice: str) -> QLocale:
    return QLocale.system() if not choice else QLocale(choice)


def install(app: QCoreApplication, choice: str = "") -> list[str]:
    """Load and install the translations for `choice`; returns the files loaded.
    A second call replaces what the first installed."""
    for old in _installed:
        app.removeTranslator(old)
    _installed.clear()
    locale = locale_for(choice)
    if choice:
        QLocale.setDefault(locale)   # numbers and dates follow the chosen language too
    english = locale.language() in (QLocale.Language.English, QLocale.Language.C)
    loaded: list[str] = []
    ours = catalogue_dir()
    for name, folder in ((CATALOGUE, ours),
                         ("qtbase", QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath))):
        translator = QTranslator(app)
        if folder and translator.load(locale, name, "_", folder):
            app.installTranslator(translator)
            _installed.append(translator)
            loaded.append(translator.filePath())
        elif name == CATALOGUE and english:
            log.debug("interface language %s: English, the source, needs no catalogue",
                      locale.name())
        else:
            log.info("no %s translation for %s in %s: those texts stay English",
                     name, locale.name(), folder or "(no folder)")
    log.info("interface language: %s (chosen: %r); loaded %s", locale.name(), choice,
             ", ".join(loaded) or "nothing")
    return loaded


# ------------------------------------------------------------ words that come as data
WORDS = {
    # process roles (the Status window, the leftovers table)
    "tray": QT_TRANSLATE_NOOP("Words", "tray"),
    "service": QT_TRANSLATE_NOOP("Words", "service"),
    "worker": QT_TRANSLATE_NOOP("Words", "worker"),
    "resource-tracker": QT_TRANSLATE_NOOP("Words", "resource tracker"),
    "resource tracker": QT_TRANSLATE_NOOP("Words", "resource tracker"),
    # states of the service and of its processes
    "stopped": QT_TRANSLATE_NOOP("Words", "stopped"),
    "starting": QT_TRANSLATE_NOOP("Words", "starting"),
    "running": QT_TRANSLATE_NOOP("Words", "running"),
    "stopping": QT_TRANSLATE_NOOP("Words", "stopping"),
    "error": QT_TRANSLATE_NOOP("Words", "error"),
    "exited": QT_TRANSLATE_NOOP("Words", "exited"),
    "ready": QT_TRANSLATE_NOOP("Words", "ready"),
    "restarting": QT_TRANSLATE_NOOP("Words", "restarting"),
    "load_failed": QT_TRANSLATE_NOOP("Words", "load failed"),
    "gave_up": QT_TRANSLATE_NOOP("Words", "gave up"),
    # GPU memory cells
    "no GPU": QT_TRANSLATE_NOOP("Words", "no GPU"),
    "in use": QT_TRANSLATE_NOOP("Words", "in use"),
    # how the sweep found a survivor
    "markers": QT_TRANSLATE_NOOP("Words", "markers"),
    "registry": QT_TRANSLATE_NOOP("Words", "registry"),
    "markers and registry": QT_TRANSLATE_NOOP("Words", "markers and registry"),
}


def word(token) -> str:
    """`token` in the interface language when it is one we know, else as it came."""
    text = "" if token is None else str(token)
    source = WORDS.get(text)
    return QCoreApplication.translate("Words", source) if source else text
