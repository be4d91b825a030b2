"""How a Whisper language is named in a language box, the same in Settings
and the captions window: as its speakers write it ("中文 (zh)",
"Deutsch (de)"), English in the interface's language."""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QLocale

from service.languages import LANGUAGES

# Qt names a language with its default territory ("American English", "español de
# España", "简体中文"), or not at all (Whisper's old "jw"); these are the names alone.
PLAIN_NAMES = {"zh": "中文", "es": "español", "no": "norsk", "tl": "Tagalog", "jw": "Basa Jawa"}


def language_name(code: str) -> str:
    if code == "en":
        # the one name an English-only model offers, and the interface may be Chinese
        return QCoreApplication.translate("CaptionsWindow", "English (en)")
    name = PLAIN_NAMES.get(code, "")
    if not name:
        locale = QLocale(code)
        if locale.language() not in (QLocale.Language.C, QLocale.Language.AnyLanguage):
            name = locale.nativeLanguageName()
    return f"{name or LANGUAGES.get(code, code).title()} ({code})"
