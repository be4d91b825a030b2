"""After the service has been stopped: prove nothing of our tree survived (L4),
and end whatever did.

Two independent witnesses, because either alone can miss something: the env
markers (every process of our tree carries our ASR_TRAY_INSTANCE) and the
registry records of our instance (pid AND create_time, so a reused pid is
never touched). Plain functions, no Qt: run them in a worker thread.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import psutil

from service.safety import registry
from service.safety.processes import kill_now, marked_processes

log = logging.getLogger("asr.tray.sweep")


@dataclass
class Survivor:
    pid: int
    role: str
    how_found: str   # "markers", "registry" or both
    helper: bool = False  # multiprocessing's resource tracker: it leaves by itself, a bit late

    def describe(self) -> str:
        what = "resource-tracker helper of the service" if self.helper else self.role
        return f"{what} pid {self.pid} (found by {self.how_found})"


def is_resource_tracker(proc: psutil.Process) -> bool:
    """Only used to word the report, never to choose what to kill: the tracker
    carries our markers like the rest of the tree and is ended like them."""
    try:
        return "multiprocessing.resource_tracker" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


@dataclass
class SweepReport:
    found: list[Survivor] = field(default_factory=list)
    still_alive: list[int] = field(default_factory=list)

    @property
    def killed(self) -> list[Survivor]:
        return [s for s in self.found if s.pid not in self.still_alive]

    @property
    def worth_telling(self) -> bool:
        """Did a real process of the tree (not just the slow helper) have to be killed?"""
        return any(not s.helper for s in self.found) or bool(self.still_alive)

    def sentence(self) -> str:
        if not self.found:
            return "Every process of the ASR service stopped cleanly."
        text = ("The ASR service left process(es) behind, which were ended: "
                + "; ".join(s.describe() for s in self.killed) + ".") if self.killed else ""
        if self.still_alive:
            text += (f" Could not end pid {', '.join(map(str, self.still_alive))}: end them "
                     "with 'asr-service leftovers --kill' or your task manager.")
        return text.strip()


def survivors_of(instance: str, created_before: float | None = None
                 ) -> dict[int, tuple[psutil.Process, Survivor]]:
    """`created_before`: ignore processes started after that moment (a service
    the user started again after a Stop is not a survivor of the old one)."""
    me = os.getpid()
    found: dict[int, tuple[psutil.Process, Survivor]] = {}

    def newer(proc: psutil.Process) -> bool:
        try:
            return created_before is not None and proc.create_time() > created_before
        except psutil.Error:
            return True
    for m in marked_processes():
        if m.instance == instance and m.pid != me and not newer(m.proc):
            found[m.pid] = (m.proc, Survivor(m.pid, m.role, "markers",
                                             helper=is_resource_tracker(m.proc)))
    for rec in registry.read_all():
        if rec.instance != instance or rec.pid == me:
            continue
        proc = rec.process()  # None when gone or the pid now belongs to someone else
        if proc is None:
            registry.remove(rec)  # our own record of a process that is gone
            continue
        if newer(proc):
            continue
        if proc.pid in found:
            found[proc.pid][1].how_found = "markers and registry"
        else:
            found[proc.pid] = (proc, Survivor(proc.pid, rec.role, "registry",
                                              helper=is_resource_tracker(proc)))
    return found


def sweep(instance: str, grace: float = 0.4, timeout: float = 0.8,
          created_before: float | None = None) -> SweepReport:
    """Kill every live process of our tree except ourselves; log what it found.

    Processes get `grace` seconds to finish exiting on their own first: the
    service's multiprocessing resource tracker, for one, leaves a moment after
    the service. Only what is still there after that counts as a survivor.
    """
    if not instance:
        return SweepReport()
    found = survivors_of(instance, created_before)
    if found and grace > 0:
        _gone, alive = psutil.wait_procs([p for p, _s in found.values()], timeout=grace)
        still = {p.pid for p in alive}
        for pid in [pid for pid in found if pid not in still]:
            log.info("sweep: %s exited on its own", found.pop(pid)[1].describe())
    report = SweepReport(found=[s for _p, s in found.values()])
    if found:
        (log.warning if report.worth_telling else log.info)("survivors of our tree after stopping the service: %s",
                    ", ".join(s.describe() for s in report.found))
        left = kill_now([p for p, _s in found.values()], timeout=timeout)
        report.still_alive = sorted(p.pid for p in left)
        for rec in registry.read_all():
            if rec.instance == instance and rec.pid != os.getpid() and rec.process() is None:
                registry.remove(rec)
    else:
        log.info("sweep: no process of instance %s is left", instance)
    return report
