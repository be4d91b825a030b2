"""Byte counts as people read them ("412 MiB"), one formatter for the service,
the CLI and the tray."""
from __future__ import annotations


def mib(n_bytes: float, digits: int = 0) -> str:
    return f"{n_bytes / 2**20:.{digits}f} MiB"
