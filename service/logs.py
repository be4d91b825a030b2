"""Logging for our processes: stderr, plus a rotating file in the log folder
the tray's "Open log folder" shows."""
from __future__ import annotations

import logging
import logging.handlers
import sys

from service.safety import registry


def setup(label: str, level: str | int = "INFO", file_name: str | None = None) -> None:
    """`label` names the process in every line (service[pid], tray[pid])."""
    fmt = logging.Formatter(f"%(asctime)s {label}[%(process)d] %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(level)
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(fmt)
    root.addHandler(err)
    try:
        fh = logging.handlers.RotatingFileHandler(registry.log_dir() / (file_name or f"{label}.log"),
                                                  maxBytes=2 * 2**20, backupCount=3)
        fh.setFormatter(fmt)
        root.addHandler(fh)
    except OSError:
        pass  # a read-only profile must not stop the app; stderr still has it
