"""Finding our processes by their markers and ending process trees.

Identity is always pid AND create_time (psutil checks the latter before it
signals a Process object it made earlier), never a process name.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

from service.safety import markers


@dataclass
class MarkedProcess:
    proc: psutil.Process
    role: str
    instance: str
    parent_pid_env: int | None
    runtime_dir: str | None

    @property
    def pid(self) -> int:
        return self.proc.pid


def read_markers(proc: psutil.Process) -> MarkedProcess | None:
    try:
        env = proc.environ()
    except (psutil.Error, OSError):
        return None
    role = env.get(markers.ROLE)
    if not role:
        return None
    try:
        parent = int(env.get(markers.PARENT_PID, ""))
    except ValueError:
        parent = None
    return MarkedProcess(proc, role, env.get(markers.INSTANCE, ""), parent,
                         env.get(markers.RUNTIME_DIR))


def marked_processes(runtime_dir: str | None = None) -> list[MarkedProcess]:
    """Every live process carrying ASR_TRAY_ROLE (optionally: of one runtime dir)."""
    found = []
    me = os.getpid()
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        m = read_markers(proc)
        if m is None:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
        if runtime_dir is not None and m.runtime_dir != runtime_dir:
            continue
        found.append(m)
    return found


def _still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """A killed process whose parent has not reaped it yet is a zombie: it
    holds no memory or GPU context any more, so it counts as gone."""
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def _wait(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while True:
        _gone, alive = psutil.wait_procs(alive, timeout=min(0.05, max(0.0, deadline - time.monotonic())))
        alive = _still_running(alive)
        if not alive or time.monotonic() >= deadline:
            return alive


def end_processes(procs: list[psutil.Process], grace: float = 1.0) -> list[psutil.Process]:
    """terminate → wait(grace) → kill → wait. Returns the ones still alive."""
    alive = []
    for p in procs:
        try:
            p.terminate()
            alive.append(p)
        except psutil.NoSuchProcess:
            pass
    alive = _wait(alive, grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return _wait(alive, 1.0)


def kill_now(procs: list[psutil.Process], timeout: float = 2.0) -> list[psutil.Process]:
    """SIGKILL / TerminateProcess at once; returns those still alive after `timeout`."""
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return _wait(procs, timeout)


@dataclass
class ProcessFigures:
    pid: int
    alive: bool
    rss: int | None = None
    cpu_percent: float | None = None
    uptime: float | None = None
    status: str | None = None


class FigureSampler:
    """CPU % needs two samples; keep the Process objects between calls."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, pid: int | None) -> ProcessFigures | None:
        if pid is None:
            return None
        proc = self._procs.get(pid)
        try:
            if proc is None or not proc.is_running():
                proc = psutil.Process(pid)
                proc.cpu_percent(None)
                self._procs[pid] = proc
            with proc.oneshot():
                return ProcessFigures(
                    pid=pid, alive=True, rss=proc.memory_info().rss,
                    cpu_percent=proc.cpu_percent(None),
                    uptime=time.time() - proc.create_time(), status=proc.status())
        except psutil.Error:
            self._procs.pop(pid, None)
            return ProcessFigures(pid=pid, alive=False)
