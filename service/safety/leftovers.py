"""Leftovers: processes of earlier trees that lost their top (DESIGN.md).

A process is a leftover when it carries ASR_TRAY_ROLE (in its environment or
in a registry record whose pid AND create_time still match) and its tree has
no live top: no live `tray` of the same instance, and no `service` of that
instance still under the parent that started it. The current tree is never a
leftover, and nothing is ever chosen by name. The same code backs
`asr-service leftovers [--kill]` and the tray's "Kill leftover workers".

Machine-wide, for the current user: a leftover is found wherever it came
from, whatever its ASR_TRAY_RUNTIME_DIR (a service an Electron app started
with its own, a portable install, an earlier version), and each is listed
with its runtime directory, command line and start time, so the user sees
what they end. `runtime_dir=` narrows a scan to one runtime directory (tests
keep their isolation that way; the default is never blind). Other users'
processes are never candidates: their environment cannot be read without
privileges (psutil's environ() fails), and even where it can (root), a
process whose real uid is not ours is skipped.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from service.safety import gpu, markers, registry
from service.safety import processes
from service.safety.processes import kill_now, marked_processes


@dataclass
class Leftover:
    pid: int
    create_time: float
    role: str
    instance: str
    reason: str
    rss: int | None
    age: float
    gpu_memory: str
    proc: psutil.Process = field(repr=False, compare=False)
    record: registry.Record | None = field(default=None, repr=False, compare=False)
    runtime_dir: str = ""     # the runtime directory of its tree (registry, logs)
    cmdline: str = ""         # what the user ends: the command line, quoted
    started: str = ""         # its start time, local, ISO 8601 to the second

    def to_json(self) -> dict:
        return {"pid": self.pid, "create_time": self.create_time, "role": self.role,
                "instance": self.instance, "reason": self.reason, "rss": self.rss,
                "age_s": round(self.age, 1), "gpu_memory": self.gpu_memory,
                "runtime_dir": self.runtime_dir, "cmdline": self.cmdline,
                "started": self.started}


@dataclass
class Scan:
    leftovers: list[Leftover]
    stale_records: list[registry.Record]  # process gone (or pid reused): only the file is left
    live_records: list[registry.Record]   # process alive and part of a live tree


@dataclass
class KillReport:
    ended: list[Leftover]
    survivors: list[Leftover]
    stale_records_removed: int
    gpu_still_held: list[int]

    def sentence(self) -> str:
        if not self.ended and not self.survivors:
            text = "No leftover workers were found."
        else:
            text = f"Ended {len(self.ended)} leftover process(es)."
            if self.survivors:
                pids = ", ".join(str(l.pid) for l in self.survivors)
                text += (f" {len(self.survivors)} could not be ended (pid {pids}): "
                         "they may belong to another user; end them from an administrator shell.")
        if self.gpu_still_held:
            text += (" GPU memory is still held by pid "
                     + ", ".join(map(str, self.gpu_still_held)) + ".")
        return text

    def to_json(self) -> dict:
        return {"ended": [l.to_json() for l in self.ended],
                "survivors": [l.to_json() for l in self.survivors],
                "stale_records_removed": self.stale_records_removed,
                "gpu_still_held": self.gpu_still_held, "message": self.sentence()}


def _has_its_parent(proc: psutil.Process, parent_pid: int | None) -> bool:
    """Is `proc` still under the process that started it? On POSIX a child whose
    parent died is re-parented, so its ppid changes; on Windows the ppid stays
    stale, so also require the parent to be older than the child (pid reuse)."""
    if not parent_pid:
        return False
    try:
        if proc.ppid() != parent_pid:
            return False
        parent = psutil.Process(parent_pid)
        return parent.create_time() <= proc.create_time() + registry.CREATE_TIME_TOLERANCE
    except psutil.Error:
        return False


def default_runtime_dir(env: dict) -> str:
    """The runtime directory a process with environment `env` uses when
    ASR_TRAY_RUNTIME_DIR is not set: registry.runtime_dir()'s rule, computed
    for that process's environment, without creating anything."""
    if os.name == "nt":
        base = env.get("LOCALAPPDATA") or str(Path(env.get("USERPROFILE") or Path.home())
                                              / "AppData" / "Local")
        return str(Path(base) / "asr-tray")
    home = env.get("HOME") or str(Path.home())
    if sys.platform == "darwin":
        return str(Path(home) / "Library" / "Application Support" / "asr-tray")
    return str(Path(env.get("XDG_STATE_HOME") or Path(home) / ".local" / "state") / "asr-tray")


def _runtime_dir_of(proc: psutil.Process, marked: str | None) -> str:
    if marked:
        return marked
    try:
        return default_runtime_dir(proc.environ())
    except (psutil.Error, OSError):
        return default_runtime_dir(dict(os.environ, **{markers.RUNTIME_DIR: ""}))


def _same_dir(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return a == b


def _ours(proc: psutil.Process) -> bool:
    """The current user's process (POSIX: real uid). Leftovers of other users
    are never touched; without privileges their environment is unreadable
    anyway, so this only matters when run as root."""
    if os.name != "posix":
        return True
    try:
        return proc.uids().real == os.getuid()
    except psutil.Error:
        return False


def _command_line(proc: psutil.Process) -> str:
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return ""
    return subprocess.list2cmdline(argv) if os.name == "nt" else shlex.join(argv)


def scan(exclude_instance: str | None = None, runtime_dir: str | None = None) -> Scan:
    """Find leftovers without touching anything. `exclude_instance` defaults to
    the caller's own tree. Every process of the current user that carries our
    markers is a candidate, whatever its runtime directory; `runtime_dir`
    keeps only those of that directory. Registry records are those of the
    caller's own runtime directory (ASR_TRAY_RUNTIME_DIR, or the default)."""
    if exclude_instance is None:
        exclude_instance = markers.current_instance()
    my_dir = os.environ.get(markers.RUNTIME_DIR) or default_runtime_dir(
        dict(os.environ, **{markers.RUNTIME_DIR: ""}))
    if runtime_dir is not None and not _same_dir(runtime_dir, my_dir):
        records_apply = False   # our registry is not that directory's
    else:
        records_apply = True
    candidates: dict[int, tuple[psutil.Process, str, str, int | None, registry.Record | None, str]] = {}
    tops: list[tuple[psutil.Process, str, str, int | None]] = []
    for m in marked_processes():
        if not _ours(m.proc):
            continue
        tops.append((m.proc, m.role, m.instance, m.parent_pid_env))
        where = _runtime_dir_of(m.proc, m.runtime_dir)
        if runtime_dir is None or _same_dir(where, runtime_dir):
            candidates[m.pid] = (m.proc, m.role, m.instance, m.parent_pid_env, None, where)
    stale, records = [], registry.read_all() if records_apply else []
    for rec in records:
        proc = rec.process()
        if proc is None:
            stale.append(rec)
            continue
        if proc.pid in candidates:
            p, role, inst, ppid_env, _, where = candidates[proc.pid]
            if rec.role == processes.TRACKER_ROLE:
                role = rec.role   # its record says what it is; its env says "service"
            candidates[proc.pid] = (p, role, inst, ppid_env or rec.parent_pid, rec, where)
        elif processes.read_markers(proc) is None:
            # environment unreadable (hardened OS): our registry's record is the proof
            candidates[proc.pid] = (proc, rec.role, rec.instance, rec.parent_pid, rec, my_dir)
            tops.append((proc, rec.role, rec.instance, rec.parent_pid))

    live_instances = set()
    for proc, role, inst, parent_pid in tops:
        if role == "tray":
            live_instances.add(inst)
        elif role == "service" and _has_its_parent(proc, parent_pid):
            live_instances.add(inst)

    gpu_probe = gpu.probe()
    gpu_table = gpu_probe.memory_by_pid()
    leftovers, live = [], []
    now = time.time()
    for pid, (proc, role, inst, _parent, rec, where) in candidates.items():
        if role == "tray" or inst in live_instances or (exclude_instance and inst == exclude_instance):
            if rec is not None:
                live.append(rec)
            continue
        try:
            with proc.oneshot():
                ctime, rss = proc.create_time(), proc.memory_info().rss
        except psutil.Error:
            continue
        leftovers.append(Leftover(
            pid=pid, create_time=ctime, role=role, instance=inst,
            reason="no live tray or parent owns its tree", rss=rss, age=now - ctime,
            gpu_memory=gpu_probe.describe_pid(pid, gpu_table), proc=proc, record=rec,
            runtime_dir=where, cmdline=_command_line(proc),
            started=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ctime))))
    leftovers.sort(key=lambda l: (l.role != "service", l.pid))
    return Scan(leftovers, stale, live)


def kill(found: Scan, timeout: float = 3.0) -> KillReport:
    """End the leftovers of a scan and prune stale records."""
    procs = [l.proc for l in found.leftovers]
    still = {p.pid for p in kill_now(procs, timeout=timeout)}
    ended = [l for l in found.leftovers if l.pid not in still]
    survivors = [l for l in found.leftovers if l.pid in still]
    for l in ended:
        if l.record is not None:
            registry.remove(l.record)
        for rec in registry.read_all():  # records written under the env-only path
            if rec.pid == l.pid and abs(rec.create_time - l.create_time) <= registry.CREATE_TIME_TOLERANCE:
                registry.remove(rec)
    for rec in found.stale_records:
        registry.remove(rec)
    held = sorted(set(gpu.probe().memory_by_pid()) & {l.pid for l in found.leftovers})
    return KillReport(ended, survivors, len(found.stale_records), held)
