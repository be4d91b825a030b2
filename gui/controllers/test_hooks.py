"""Opt-in hooks for end-to-end tests and the benchmark (ASR_TRAY_TEST_HOOKS=1).

The tray then writes what its Status window and menu show into
`<runtime dir>/tray-test-snapshot.json` whenever it changes, and accepts
"action NAME" (trigger a menu action) and "dialog accept|reject" over its
single-instance socket. Off by default: a user's tray exposes none of this.
"""
from __future__ import annotations

import json
import os
import time

from service.safety import registry

ENV = "ASR_TRAY_TEST_HOOKS"
SNAPSHOT = "tray-test-snapshot.json"


def enabled() -> bool:
    return os.environ.get(ENV) == "1"


def snapshot_path():
    return registry.runtime_dir() / SNAPSHOT


def write_snapshot(data: dict) -> None:
    path = snapshot_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(data, written_at=time.time()), indent=1, default=str))
    os.replace(tmp, path)
