"""multiprocessing's resource tracker: a child of the service, known by identity.

The tracker (POSIX only) is a process the service starts once, before the
first worker; it carries the service's markers, because it inherits the
service's environment. Without a record of its own a sweep or a leftover scan
could only guess what it is (its cmdline, which reads empty while it exits),
and a guess named it "service". So when the service starts it, it writes a
registry record for it: pid AND create_time, role "resource-tracker".

On a clean stop, after the last worker is gone, the service ends it itself
(closing its end of the tracker's pipe, which is how multiprocessing asks it
to leave) and reaps it, so the tracker does not outlive the service, not even
as a zombie; then the record goes. If that does not happen in time (a worker
still holds the pipe, or the service is killed), the record stays: whoever
sweeps after the service knows the process by identity, not by luck.
"""
from __future__ import annotations

import logging
import os
import time

import psutil

from service.safety import markers, registry
from service.safety.processes import TRACKER_ROLE as ROLE

log = logging.getLogger("asr.supervisor")

REAP_TIMEOUT_S = 0.3


class TrackerRecord:
    def __init__(self, pid: int, create_time: float):
        self.pid = pid
        self.create_time = create_time
        self.path = registry.registry_dir() / f"{ROLE}-{pid}.json"
        record = registry.Record(pid=pid, create_time=create_time, role=ROLE,
                                 instance=markers.current_instance() or "",
                                 parent_pid=os.getpid(), started_at=time.time(),
                                 extra={"service_pid": os.getpid()})
        # registry's own writer: same atomic replace and file permissions as every record
        registry._write_atomic(self.path, record.to_json())

    def close(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def start() -> TrackerRecord | None:
    """Start the tracker now (under the service's own markers: started later,
    inside a spawn, it would inherit the environment that says "worker") and
    record it. None on Windows, which has no tracker process."""
    if os.name != "posix":
        return None
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    pid = getattr(resource_tracker._resource_tracker, "_pid", None)
    if not pid:
        return None
    try:
        return TrackerRecord(pid, psutil.Process(pid).create_time())
    except (psutil.Error, OSError) as exc:
        log.warning("could not record the resource tracker pid %s: %s", pid, exc)
        return None


def stop(record: TrackerRecord | None, timeout: float = REAP_TIMEOUT_S) -> bool:
    """After the last worker is gone: let the tracker leave and reap it. True
    when it is gone (its record removed); False leaves the record in place."""
    if record is None:
        return True
    from multiprocessing import resource_tracker

    rt = resource_tracker._resource_tracker
    with rt._lock:
        if rt._pid != record.pid or rt._fd is None:
            return False   # not the one we recorded: leave its record to the sweep
        os.close(rt._fd)   # EOF on its pipe: multiprocessing's way to stop it
        rt._fd = None
        rt._pid = None
    deadline = time.monotonic() + timeout
    while True:
        try:
            pid, _status = os.waitpid(record.pid, os.WNOHANG)
        except ChildProcessError:
            pid = record.pid    # reaped already
        if pid == record.pid:
            record.close()
            return True
        if time.monotonic() >= deadline:
            log.warning("the resource tracker pid %d did not leave within %.1f s; its registry "
                        "record stays so that the tray's sweep can end it", record.pid, timeout)
            return False
        time.sleep(0.005)
