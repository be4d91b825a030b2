"""Where the bundled icon files are, whether installed or run from a checkout."""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent

STATES = ("stopped", "starting", "running", "error", "listening")


def icon_path(state: str) -> Path:
    """The SVG for a tray state (one of STATES)."""
    if state not in STATES:
        raise ValueError(f"no icon for state {state!r}; known: {', '.join(STATES)}")
    return _HERE / f"tray-{state}.svg"
