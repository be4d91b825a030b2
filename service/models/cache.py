"""Where models live on this computer: the model cache directory.

ASR_TRAY_MODEL_CACHE overrides it (tests and portable installs use it);
otherwise it is the platform's per-user cache folder + asr-tray/models.
Downloads, and the offline base joined from its two packages, go there.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "ASR_TRAY_MODEL_CACHE"


def model_cache_dir(env=None, platform: str | None = None, home: Path | None = None) -> Path:
    """The model cache directory (not created here). The arguments exist for
    tests: by default the real environment, platform and home folder."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else Path(home)
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    if platform.startswith("win"):
        base = Path(env["LOCALAPPDATA"]) if env.get("LOCALAPPDATA") else home / "AppData" / "Local"
        return base / "asr-tray" / "models"
    if platform == "darwin":
        return home / "Library" / "Caches" / "asr-tray" / "models"
    # XDG: a relative XDG_CACHE_HOME is invalid by the spec and is ignored.
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".cache"
    return base / "asr-tray" / "models"
