"""Finding and ending what a test started, by the env markers (never by name)."""
from __future__ import annotations

import time

import psutil

from service.safety.processes import marked_processes


def tree(runtime_dir: str) -> list[psutil.Process]:
    """Every live process that inherited this test's ASR_TRAY_RUNTIME_DIR."""
    return [m.proc for m in marked_processes(runtime_dir=runtime_dir)]


def identities(procs) -> set[tuple[int, float]]:
    out = set()
    for p in procs:
        try:
            out.add((p.pid, p.create_time()))
        except psutil.Error:
            pass
    return out


def alive(ids: set[tuple[int, float]]) -> set[tuple[int, float]]:
    """Those of (pid, create_time) still running (zombies count as gone)."""
    left = set()
    for pid, ctime in ids:
        try:
            p = psutil.Process(pid)
            if abs(p.create_time() - ctime) < 0.05 and p.status() != psutil.STATUS_ZOMBIE:
                left.add((pid, ctime))
        except psutil.Error:
            pass
    return left


def wait_gone(ids: set[tuple[int, float]], timeout: float) -> tuple[set, float]:
    """Poll until none of `ids` runs; returns (survivors, seconds waited)."""
    t0 = time.monotonic()
    while True:
        left = alive(ids)
        elapsed = time.monotonic() - t0
        if not left or elapsed >= timeout:
            return left, elapsed
        time.sleep(0.005)


def wait_tree_gone(runtime_dir: str, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    while True:
        left = tree(runtime_dir)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def kill_all(procs) -> None:
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(list(procs), timeout=3)
