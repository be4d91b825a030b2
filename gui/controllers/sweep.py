"""After the service has been stopped: prove nothing of our tree survived (L4),
and end whatever did.

Two independent witnesses, because either alone can miss something: the env
markers (every process of our tree carries our ASR_TRAY_INSTANCE) and the
registry records of our instance (pid AND create_time, so a reused pid is
never touched). Plain functions, no Qt: run them in a worker thread.

What the report says is the truth, by identity: multiprocessing's resource
tracker is known by the record the service wrote for it (pid AND
create_time), never guessed from its cmdline (which reads empty while it
exits); a zombie (exited, not reaped yet) counts as gone, since it holds no
memory or GPU; and only a process that was still running after its grace
and really got SIGKILL is reported as "had to be ended".
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

import psutil
from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from gui.i18n import word
from service.safety import registry
from service.safety.processes import (TRACKER_NAME, TRACKER_ROLE, kill_running, marked_processes,
                                      wait_gone)

log = logging.getLogger("asr.tray.sweep")

GRACE_S = 0.4          # for the tree's processes to finish exiting on their own
HELPER_GRACE_S = 1.2   # the resource tracker leaves once the service and worker are gone


Identity = tuple[int, float]   # (pid, create_time)

# The report's sentences: English in the log (the quit line is a contract, DESIGN.md),
# translated where a person reads them (shown_sentence).
DESCRIBE = QT_TRANSLATE_NOOP("SweepReport", "{what} pid {pid} (found by {how})")
CLEAN = QT_TRANSLATE_NOOP("SweepReport", "Every process of the ASR service stopped cleanly.")
ENDED = QT_TRANSLATE_NOOP("SweepReport", "The ASR service left process(es) behind, which were "
                          "ended: {which}.")
NOT_ENDED = QT_TRANSLATE_NOOP("SweepReport", "Could not end pid {pids}: end them with "
                              "'asr-service leftovers --kill' or your task manager.")


@dataclass
class Survivor:
    pid: int
    role: str
    how_found: str   # "markers", "registry" or both
    helper: bool = False  # the service's resource tracker (known by its record)

    def describe(self, translate=None) -> str:
        """English (logs), or through `translate` and word() (the person's language)."""
        what = TRACKER_NAME if self.helper else self.role
        if translate is None:
            return DESCRIBE.format(what=what, pid=self.pid, how=self.how_found)
        return translate(DESCRIBE).format(what=word(what), pid=self.pid, how=word(self.how_found))


@dataclass
class SweepReport:
    found: list[Survivor] = field(default_factory=list)   # really had to be killed
    still_alive: list[int] = field(default_factory=list)

    @property
    def killed(self) -> list[Survivor]:
        return [s for s in self.found if s.pid not in self.still_alive]

    @property
    def worth_telling(self) -> bool:
        """Did a process of the tree have to be killed? (Whatever left on its
        own, the resource tracker included, is not in `found`.)"""
        return bool(self.found) or bool(self.still_alive)

    def sentence(self, translate=None) -> str:
        """In English (the log's quit line); shown_sentence() for people."""
        tr = translate or (lambda text: text)
        if not self.found:
            return tr(CLEAN)
        parts = []
        if self.killed:
            which = "; ".join(s.describe(translate) for s in self.killed)
            parts.append(tr(ENDED).format(which=which))
        if self.still_alive:
            parts.append(tr(NOT_ENDED).format(pids=", ".join(map(str, self.still_alive))))
        return " ".join(parts)

    def shown_sentence(self) -> str:
        """sentence() in the interface language (a notification)."""
        return self.sentence(lambda text: QCoreApplication.translate("SweepReport", text))


def _same(proc: psutil.Process, ident: Identity) -> bool:
    try:
        return (proc.pid == ident[0]
                and abs(proc.create_time() - ident[1]) <= registry.CREATE_TIME_TOLERANCE)
    except psutil.Error:
        return False


def known_helpers(instance: str) -> set[Identity]:
    """The resource tracker(s) the service of `instance` recorded. Read it
    before asking the service to stop: a clean stop removes the record."""
    return {(r.pid, r.create_time) for r in registry.read_all()
            if r.instance == instance and r.role == TRACKER_ROLE}


def survivors_of(instance: str, created_before: float | None = None,
                 helpers: set[Identity] | frozenset = frozenset()
                 ) -> dict[int, tuple[psutil.Process, Survivor]]:
    """`created_before`: ignore processes started after that moment (a service
    the user started again after a Stop is not a survivor of the old one).
    `helpers`: identities known to be the resource tracker (known_helpers())."""
    me = os.getpid()
    helpers = set(helpers)
    found: dict[int, tuple[psutil.Process, Survivor]] = {}

    def newer(proc: psutil.Process) -> bool:
        try:
            return created_before is not None and proc.create_time() > created_before
        except psutil.Error:
            return True
    records = [r for r in registry.read_all() if r.instance == instance and r.pid != me]
    helpers |= {(r.pid, r.create_time) for r in records if r.role == TRACKER_ROLE}

    def is_helper(proc: psutil.Process) -> bool:
        return any(_same(proc, h) for h in helpers)
    for m in marked_processes():   # zombies are left out there: they count as gone
        if m.instance == instance and m.pid != me and not newer(m.proc):
            found[m.pid] = (m.proc, Survivor(m.pid, m.role, "markers", helper=is_helper(m.proc)))
    for rec in records:
        proc = rec.process()  # None when gone, a zombie, or the pid now belongs to someone else
        if proc is None:
            registry.remove(rec)  # our own record of a process that is gone
            continue
        if newer(proc):
            continue
        if proc.pid in found:
            found[proc.pid][1].how_found = "markers and registry"
        else:
            found[proc.pid] = (proc, Survivor(proc.pid, rec.role, "registry",
                                              helper=rec.role == TRACKER_ROLE or is_helper(proc)))
    return found


def sweep(instance: str, grace: float = GRACE_S, timeout: float = 0.8,
          created_before: float | None = None, helpers: set[Identity] | frozenset = frozenset(),
          helper_grace: float = HELPER_GRACE_S) -> SweepReport:
    """Kill every live process of our tree except ourselves; log what it found.

    Processes get `grace` seconds to finish exiting on their own first, the
    resource tracker `helper_grace` (it leaves a moment after the service).
    Only what still runs after that, and really gets SIGKILL, is a survivor.
    """
    if not instance:
        return SweepReport()
    found = survivors_of(instance, created_before, helpers)
    if found:
        t0 = time.monotonic()
        tree = [p for p, s in found.values() if not s.helper]
        trackers = [p for p, s in found.values() if s.helper]
        left = wait_gone(tree, grace) if grace > 0 else tree
        spent = time.monotonic() - t0
        left += wait_gone(trackers, max(0.0, helper_grace - spent)) if grace > 0 else trackers
        still = {p.pid for p in left}
        for pid in [pid for pid in found if pid not in still]:
            log.info("sweep: %s exited on its own", found.pop(pid)[1].describe())
    if not found:
        log.info("sweep: no process of instance %s is left", instance)
        _prune_records(instance)
        return SweepReport()
    signalled = {p.pid for p in kill_running([p for p, _s in found.values()])}
    for pid in [pid for pid in found if pid not in signalled]:
        log.info("sweep: %s exited on its own", found.pop(pid)[1].describe())
    report = SweepReport(found=[s for _p, s in found.values()])
    if found:
        log.warning("survivors of our tree after stopping the service: %s",
                    ", ".join(s.describe() for s in report.found))
        report.still_alive = sorted(p.pid for p in wait_gone([p for p, _s in found.values()],
                                                             timeout))
    _prune_records(instance)
    return report


def _prune_records(instance: str) -> None:
    for rec in registry.read_all():
        if rec.instance == instance and rec.pid != os.getpid() and rec.process() is None:
            registry.remove(rec)

