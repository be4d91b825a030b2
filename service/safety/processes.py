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

# The registry role of multiprocessing's resource tracker, a helper the service
# starts and records by identity (service/supervision/tracker.py), and the
# name it goes by wherever it is shown.
TRACKER_ROLE = "resource-tracker"
TRACKER_NAME = "resource tracker"


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


def is_running(proc: psutil.Process) -> bool:
    """Alive and not a zombie. A process that has exited but whose parent has
    not reaped it yet (re-parented to a pid 1 that reaps slowly, say) holds no
    memory or GPU context any more: it counts as gone, everywhere."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _still_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if is_running(p)]


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` for `procs` to exit; returns those still running.
    Unlike psutil.wait_procs alone, a zombie that is not our child counts as
    gone (wait_procs cannot reap it, so it would wait for it forever)."""
    deadline = time.monotonic() + timeout
    alive = _still_running(procs)
    while alive:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        _gone, alive = psutil.wait_procs(alive, timeout=min(0.05, left))
        alive = _still_running(alive)
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
    alive = wait_gone(alive, grace)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return wait_gone(alive, 1.0)


def kill_now(procs: list[psutil.Process], timeout: float = 2.0) -> list[psutil.Process]:
    """SIGKILL / TerminateProcess at once; returns those still alive after `timeout`."""
    kill_running(procs)
    return wait_gone(procs, timeout)


def kill_running(procs: list[psutil.Process]) -> list[psutil.Process]:
    """SIGKILL those of `procs` that still run; returns the ones it really
    signalled. A process that exited (or is a zombie) by now is not "killed":
    reports must not claim to have ended what left by itself."""
    signalled = []
    for p in procs:
        if not is_running(p):
            continue
        try:
            p.kill()   # psutil checks pid AND create_time first: never a reused pid
            signalled.append(p)
        except psutil.NoSuchProcess:
            pass
        except psutil.AccessDenied:
            signalled.append(p)  # still there: the caller's "still alive" list says so
    return signalled


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
