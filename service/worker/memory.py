"""Giving freed memory back to the system after large work.

glibc keeps what a large request freed inside the process: its mmap
threshold rises to the size of the blocks freed (up to 32 MB), so later
buffers come from the heap, and free heap pages only go back to the system
on a trim. Without one the worker's RSS stays at its high-water mark for
good (155 -> 578 MiB over a run of large uploads). malloc_trim(0) costs a few
milliseconds. Elsewhere (musl, macOS, Windows) there is no such call: the
allocators there return large blocks themselves, and this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

_trim = None


def give_back() -> None:
    """malloc_trim(0) on glibc; nothing elsewhere."""
    global _trim
    if _trim is None:
        _trim = False
        if sys.platform.startswith("linux"):
            try:
                _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
            except (OSError, AttributeError):   # not glibc (musl has no malloc_trim)
                pass
    if _trim:
        _trim(0)
