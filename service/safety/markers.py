"""Environment markers that identify every process of an ASR Tray tree.

They must be in a process's *initial* environment to be visible from outside
(/proc/PID/environ, psutil, Task Manager tools); see DESIGN.md.
"""
from __future__ import annotations

import os
import sys
import uuid

ROLE = "ASR_TRAY_ROLE"
INSTANCE = "ASR_TRAY_INSTANCE"
RUNTIME_DIR = "ASR_TRAY_RUNTIME_DIR"
# The pid of the process that started the top of a tree that has no tray
# (a terminal, an Electron app). Lets anyone tell later whether that tree lost
# its top: on POSIX a re-parented child's ppid no longer matches it.
PARENT_PID = "ASR_TRAY_PARENT_PID"

MARKERS = (ROLE, INSTANCE, PARENT_PID)


def without_markers(env) -> dict:
    """A copy of `env` with none of our markers: what a process outside any
    tree has, so that whatever it starts marks itself afresh."""
    return {k: v for k, v in env.items() if k not in MARKERS}


def new_instance_id() -> str:
    return uuid.uuid4().hex[:12]


_withdrawn: dict[str, str] = {}


def current_role() -> str | None:
    return os.environ.get(ROLE) or _withdrawn.get(ROLE)


def current_instance() -> str | None:
    return os.environ.get(INSTANCE) or _withdrawn.get(INSTANCE)


def withdraw_from_environment() -> None:
    """Keep our markers (they stay in /proc/PID/environ, the initial
    environment) but stop passing them on: a file manager or a PulseAudio
    daemon the tray happens to start is not part of our tree, and must not
    be swept with it or taken for a live tray. Children of ours get their
    markers explicitly (gui/service_process.py)."""
    for key in (ROLE, INSTANCE, PARENT_PID):
        value = os.environ.pop(key, None)
        if value is not None:
            _withdrawn[key] = value


def ensure_markers(role: str, module: str, argv: list[str]) -> None:
    """Make sure this process carries the markers from its first instruction.

    A service started by the tray already has them. A process started from a
    terminal or another program re-executes itself (`python -m MODULE ARGV`)
    with them set: exec keeps the pid on POSIX, so its parent still holds the
    right pid. Windows has no exec that keeps the pid, so there the marked
    process is a child we wait for, inside a kill-on-close job so that it
    cannot outlive us.
    """
    # Markers are ours only when they were given to *this* process by its
    # parent: an unrelated program that inherited a tray's environment (and
    # starts us) must not make us join that tray's tree.
    if (os.environ.get(ROLE) == role and os.environ.get(INSTANCE)
            and os.environ.get(PARENT_PID) == str(os.getppid())):
        return
    env = dict(os.environ)
    env[ROLE] = role
    env[INSTANCE] = new_instance_id()
    # On Windows the marked copy is our child, so we are the parent it must outlive.
    env[PARENT_PID] = str(os.getppid() if os.name == "posix" else os.getpid())
    args = [sys.executable, "-m", module, *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execve(sys.executable, args, env)
    # Windows: run the marked copy as our child and mirror its exit code.
    import subprocess

    from service.safety import lifeline

    proc = subprocess.Popen(args, env=env)
    lifeline.bind_child_to_us(proc.pid)
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        sys.exit(proc.wait())
