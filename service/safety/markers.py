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
    process is a child we wait for, inside our kill-on-close job (joined
    before the child is started) so that it cannot outlive us.
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

    # In our own kill-on-close job before the child exists, so it is in the job
    # from its first instruction (python -m service has joined already: then
    # this is a no-op). bind_child_to_us only checks, or assigns it where
    # joining failed.
    lifeline.join_own_kill_on_close_job()
    _share_fate_with_our_parent(lifeline)
    proc = subprocess.Popen(args, env=env)
    lifeline.bind_child_to_us(proc.pid)
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        sys.exit(proc.wait())


EXIT_PARENT_GONE = 3


def _share_fate_with_our_parent(lifeline) -> None:
    """Windows mirror: end at once when the program that started us ends, in
    any way; our job then takes the marked service and its worker along.
    This is what exec plus PDEATHSIG gives on POSIX, where the service itself
    watches that parent; on Windows the service watches us (its parent), so
    without this a killed Electron app or script would leave the tree running.

    A parent that is gone already (a launcher that exited, or pid 0: started
    from outside Windows, as wine does from Linux) leaves nobody to share fate
    with, as a POSIX process re-parented to init: we keep running.
    """
    ppid = os.getppid()
    if ppid <= 0:
        return
    try:
        import psutil

        # Windows does not re-parent: a dead parent's pid stays our ppid and
        # may name a newer process by now. A parent younger than us is not ours.
        if psutil.Process(ppid).create_time() > psutil.Process().create_time() + 1.0:
            return
    except psutil.NoSuchProcess:
        return
    except (psutil.Error, OSError):
        pass   # times unreadable (under wine psutil may say WinError 87): watch the pid anyway
    lifeline.watch_parent_pid(ppid, lambda why: os._exit(EXIT_PARENT_GONE))
