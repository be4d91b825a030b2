"""Is this folder a CTranslate2 Whisper model faster-whisper can load?
Answered from the files alone, without loading CTranslate2: the model.bin
header is walked variable by variable (a seek per variable, so even a 3 GB
model is checked in milliseconds), which tells a complete file from a
truncated one, and the vocabulary tells English-only from multilingual.

Languages: Whisper's English-only vocabulary has 51864 tokens, the
multilingual one 51865 or more (large-v3: 51866) -- the rule CTranslate2 and
OpenAI's whisper use themselves (`n_vocab >= 51865`). The language tokens
(<|es|> ...) cannot tell them apart: the English-only tokenizer.json carries
them too.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from service.sizes import mib

MULTILINGUAL_VOCABULARY = 51865
WHISPER_SPEC = "WhisperSpec"
MAX_BINARY_VERSION = 6   # CTranslate2 4.x writes 6; refuse what we cannot read
VOCABULARY_FILES = ("vocabulary.json", "vocabulary.txt")
MODEL_FILES = ("config.json", "model.bin", "tokenizer.json", "preprocessor_config.json",
               *VOCABULARY_FILES)


@dataclass(frozen=True)
class FolderCheck:
    path: str
    problem: str | None = None    # a phrase such as "no such folder"; None when usable
    languages: str | None = None  # "en" | "multilingual" once known
    size_bytes: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def sentence(self) -> str:
        if self.problem:
            return f"The model folder '{self.path}' could not be loaded: {self.problem}."
        kind = "an English-only" if self.languages == "en" else "a multilingual"
        return (f"The model folder '{self.path}' holds {kind} CTranslate2 Whisper model "
                f"({mib(self.size_bytes)}).")


class _Truncated(Exception):
    pass


class _Reader:
    """Little-endian fields of a CTranslate2 model.bin, from an open file."""

    def __init__(self, fh, size: int):
        self.fh, self.size = fh, size

    def take(self, fmt: str):
        n = struct.calcsize(fmt)
        data = self.fh.read(n)
        if len(data) < n:
            raise _Truncated
        return struct.unpack("<" + fmt, data)[0]

    def text(self) -> str:
        n = self.take("H")
        data = self.fh.read(n)
        if len(data) < n:
            raise _Truncated
        return data.rstrip(b"\0").decode("utf-8", "replace")

    def skip(self, n: int) -> None:
        if self.fh.tell() + n > self.size:
            raise _Truncated
        self.fh.seek(n, os.SEEK_CUR)


def model_bin_problem(path: Path) -> str | None:
    """What is wrong with a model.bin, or None when its every variable is there.
    Mirrors CTranslate2's reader (src/models/model.cc) for binary versions 1-6."""
    size = path.stat().st_size
    current = ""
    with open(path, "rb") as fh:
        r = _Reader(fh, size)
        try:
            version = r.take("I")
            if not 1 <= version <= MAX_BINARY_VERSION:
                return (f"model.bin is not a CTranslate2 model file this version can read "
                        f"(binary version {version})")
            spec = r.text() if version >= 2 else ""
            if version >= 2:
                r.take("I")   # spec revision
            if spec != WHISPER_SPEC:
                return f"not a Whisper model (model.bin holds a {spec or 'version 1'} model)"
            count = r.take("I")
            for i in range(count):
                current = r.text()
                rank = r.take("B")
                for _ in range(rank):
                    r.take("I")
                if version >= 4:
                    r.take("B")          # data type
                    nbytes = r.take("I")
                else:
                    item = r.take("B")
                    nbytes = r.take("I") * item
                r.skip(nbytes)
            if version >= 3:
                for _ in range(r.take("I")):   # aliases: two names each
                    current = r.text()
                    r.text()
        except _Truncated:
            where = f" inside '{current}'" if current else ""
            return (f"model.bin is incomplete (it stops after {mib(size)}{where}): "
                    "download or copy it again")
    return None


def vocabulary_size(folder: Path) -> int | None:
    """Tokens in the folder's vocabulary file, or None without one."""
    for name in VOCABULARY_FILES:
        path = folder / name
        if not path.is_file():
            continue
        if name.endswith(".json"):
            with open(path, encoding="utf-8") as fh:
                return len(json.load(fh))
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    return None


def languages_of(vocabulary: int) -> str:
    return "multilingual" if vocabulary >= MULTILINGUAL_VOCABULARY else "en"


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def check_folder(path) -> FolderCheck:
    """Whether `path` is a CTranslate2 Whisper folder that faster-whisper can
    load offline, with a sentence naming the folder and what is wrong."""
    shown = str(path)
    folder = Path(os.path.expanduser(str(path)))
    try:
        if not folder.exists():
            return FolderCheck(shown, "no such folder")
        if not folder.is_dir():
            return FolderCheck(shown, "it is a file, not a folder (choose the folder that "
                                      "holds model.bin)")
        model_bin = folder / "model.bin"
        if not model_bin.is_file():
            return FolderCheck(shown, "not a CTranslate2 model (no model.bin)")
        problem = model_bin_problem(model_bin)
        if problem:
            return FolderCheck(shown, problem)
        vocabulary = vocabulary_size(folder)
        if vocabulary is None:
            return FolderCheck(shown, "it has no vocabulary.txt or vocabulary.json, which "
                                      "CTranslate2 needs next to model.bin")
        if not (folder / "tokenizer.json").is_file():
            # faster-whisper would fetch a tokenizer from the hub at load time.
            return FolderCheck(shown, "it has no tokenizer.json (copy the one of the same "
                                      "model next to model.bin)")
        return FolderCheck(shown, None, languages_of(vocabulary), folder_size(folder))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return FolderCheck(shown, f"it cannot be read ({reason})")
