"""Making a finished file or rename survive a crash or power cut: fsync the
file, then the folder that holds the new name (POSIX; Windows cannot open a
folder for this and makes renames durable on its own)."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
