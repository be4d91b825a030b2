"""L3: a record per live process of ours, so later runs can find what survived.

Each process writes `<runtime dir>/registry/<role>-<pid>.json` when it starts
(pid, create_time, role, instance id, ...) and removes it on a clean exit.
A record left behind means the process died without cleaning up, or is still
running: `leftovers` tells which by comparing pid AND create_time, because
pids are reused and a name proves nothing.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from service.safety import markers

CREATE_TIME_TOLERANCE = 0.05  # seconds; psutil derives it from clock ticks
# Private to the user: records name our processes, logs what was said.
DIR_MODE = 0o700
FILE_MODE = 0o600


def _private_dir(path: Path) -> Path:
    """mkdir -p, then 0700 on this folder (also one an older version made 0755).
    Parents are left as they are: they are the user's (~/.local/state)."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if os.name != "nt":
        try:
            if path.stat().st_mode & 0o777 != DIR_MODE:
                os.chmod(path, DIR_MODE)
        except OSError:
            pass  # not ours to change (a shared ASR_TRAY_RUNTIME_DIR): use it as it is
    return path


def runtime_dir() -> Path:
    """Where registry, lock and logs live; ASR_TRAY_RUNTIME_DIR overrides (tests)."""
    override = os.environ.get(markers.RUNTIME_DIR)
    if override:
        path = Path(override)
    elif os.name == "nt":
        path = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "asr-tray"
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Application Support" / "asr-tray"
    else:
        # A state dir, not XDG_RUNTIME_DIR: records must outlive a log-out,
        # which is exactly when orphans are made.
        base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
        path = Path(base) / "asr-tray"
    return _private_dir(path)


def registry_dir() -> Path:
    return _private_dir(runtime_dir() / "registry")


def log_dir() -> Path:
    return _private_dir(runtime_dir() / "logs")


@dataclass
class Record:
    pid: int
    create_time: float
    role: str
    instance: str
    parent_pid: int | None = None
    started_at: float = 0.0
    extra: dict = field(default_factory=dict)
    path: Path | None = None

    def process(self) -> psutil.Process | None:
        """The live process this record describes, or None if it is gone
        (including when its pid now belongs to another process)."""
        return process_if_same(self.pid, self.create_time)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("path")
        return d


def process_if_same(pid: int, create_time: float) -> psutil.Process | None:
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > CREATE_TIME_TOLERANCE:
            return None  # pid reused by another process
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _write_atomic(path: Path, data: dict) -> None:
    """Written whole or not at all, and 0600 from its first byte."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        if os.name != "nt":
            os.fchmod(fd, FILE_MODE)  # a tmp file left behind by a killed run
        fh.write(json.dumps(data, indent=1))
    os.replace(tmp, path)


class Registration:
    """This process's own record; `close()` removes it (clean exit)."""

    def __init__(self, role: str, **extra):
        me = psutil.Process()
        self.record = Record(
            pid=me.pid,
            create_time=me.create_time(),
            role=role,
            instance=markers.current_instance() or "",
            parent_pid=os.getppid(),
            started_at=time.time(),
            extra=dict(extra),
        )
        self.path = registry_dir() / f"{role}-{me.pid}.json"
        self.record.path = self.path
        self._write()

    def _write(self) -> None:
        _write_atomic(self.path, self.record.to_json())

    def update(self, **extra) -> None:
        self.record.extra.update(extra)
        self._write()

    def close(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def read_all() -> list[Record]:
    records = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            d = json.loads(path.read_text())
            records.append(Record(
                pid=int(d["pid"]), create_time=float(d["create_time"]), role=d["role"],
                instance=d.get("instance", ""), parent_pid=d.get("parent_pid"),
                started_at=float(d.get("started_at", 0.0)), extra=d.get("extra", {}), path=path))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written or foreign file: not ours to trust
    return records


def remove(record: Record) -> None:
    if record.path is not None:
        try:
            record.path.unlink()
        except FileNotFoundError:
            pass
