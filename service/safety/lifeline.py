"""Fate-sharing with a parent: layers L0 (kernel) and L1 (lifeline) of DESIGN.md.

L0 is the only layer that holds against SIGKILL, a crash or TerminateProcess,
because the kernel does the killing:
  * Linux: prctl(PR_SET_PDEATHSIG, SIGKILL), armed by the child itself, then
    a re-check that the parent is still the one we expect (it may have died
    before we armed). PDEATHSIG fires when the parent *thread* that forked us
    exits, so parents here spawn children only from their main thread.
  * Windows: a process that will have children first puts *itself* in a Job
    Object of its own with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    (join_own_kill_on_close_job), so every child it starts is in that job from
    its first instruction (a child assigned by pid after it started could
    spawn a grandchild outside the job in that instant). The job handle is
    private to the process and never inherited, so when it dies in any way
    the kernel closes the handle and kills the job's other processes. Jobs
    nest (Windows 8+): a service started inside another program's job makes
    its own inside that one. Where joining fails, bind_child_to_us assigns
    each child after it started, as before.
    ASR_TRAY_TEST_NO_JOB=1 turns the job code off: a test aid that lets the
    Windows lane show the orphan a missing job leaves; never set it otherwise.
  * macOS: nothing of the kind exists; L1 is what protects there.

L1 is a daemon thread that waits for the parent to go and then ends this
process: the parent's pid (pidfd / kqueue / a process handle), the
multiprocessing parent sentinel (worker), or EOF on stdin (service under
the tray). It is slower than L0 and can be delayed while native code holds
the GIL, which is why it is a second layer and not the only one.
"""
from __future__ import annotations

import ctypes
import logging
import os
import select
import signal
import sys
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


# ---------------------------------------------------------------- L0, Linux
def arm_parent_death_signal(expected_parent: int | None) -> bool:
    """Ask the Linux kernel to SIGKILL us when our parent thread dies.

    Returns False where the platform has no such thing. Exits at once when the
    parent is already gone (we were re-parented before arming).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        # The parent died between fork and prctl: nobody will ever signal us.
        os._exit(3)
    return True


# -------------------------------------------------------------- L0, Windows
# Test aid only (tests/windows): "1" makes every job function below a no-op,
# so a test can show what a tree without L0 leaves behind on Windows.
NO_JOB_ENV = "ASR_TRAY_TEST_NO_JOB"

_job_handle = None
_in_own_job = False
_job_lock = threading.RLock()


def _jobs_disabled() -> bool:
    return os.environ.get(NO_JOB_ENV) == "1"


def _kernel32():
    from ctypes import wintypes

    k = ctypes.WinDLL("kernel32", use_last_error=True)
    k.CreateJobObjectW.restype = wintypes.HANDLE
    k.CreateJobObjectW.argtypes = [ctypes.c_void_p, wintypes.LPCWSTR]
    k.SetInformationJobObject.argtypes = [
        wintypes.HANDLE, ctypes.c_int, ctypes.c_void_p, wintypes.DWORD]
    k.GetCurrentProcess.restype = wintypes.HANDLE
    k.OpenProcess.restype = wintypes.HANDLE
    k.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    k.AssignProcessToJobObject.argtypes = [wintypes.HANDLE, wintypes.HANDLE]
    k.IsProcessInJob.argtypes = [wintypes.HANDLE, wintypes.HANDLE, ctypes.POINTER(wintypes.BOOL)]
    k.CloseHandle.argtypes = [wintypes.HANDLE]
    return k


def _kill_on_close_job():
    """One Job Object per process, created on first use, never inherited."""
    global _job_handle
    from ctypes import wintypes

    with _job_lock:
        if _job_handle is not None:
            return _job_handle
        kernel32 = _kernel32()

        class IO_COUNTERS(ctypes.Structure):
            _fields_ = [(n, ctypes.c_ulonglong) for n in (
                "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
                "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]

        class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):
            _fields_ = [
                ("PerProcessUserTimeLimit", ctypes.c_int64),
                ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD),
                ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t),
                ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t),
                ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD),
            ]

        class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
            _fields_ = [
                ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
                ("IoInfo", IO_COUNTERS),
                ("ProcessMemoryLimit", ctypes.c_size_t),
                ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t),
                ("PeakJobMemoryUsed", ctypes.c_size_t),
            ]

        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
        JobObjectExtendedLimitInformation = 9
        # lpJobAttributes=NULL: the handle is not inheritable, so no child can
        # keep the job (and itself) alive after we die. No BREAKAWAY flags.
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            raise ctypes.WinError(ctypes.get_last_error())
        info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not kernel32.SetInformationJobObject(
                job, JobObjectExtendedLimitInformation, ctypes.byref(info), ctypes.sizeof(info)):
            raise ctypes.WinError(ctypes.get_last_error())
        _job_handle = job
        return job


def join_own_kill_on_close_job() -> bool:
    """Windows: put this process in its own kill-on-close job, before it
    starts anything, so that each child (and theirs) is in the job from its
    first instruction and dies with us, however we end. Call it first thing.

    Returns True when we are in our job (also on a second call), False
    elsewhere, when the test switch is on, or when Windows refused (then
    bind_child_to_us assigns children after they started, as a fallback)."""
    global _in_own_job
    if os.name != "nt" or _jobs_disabled():
        return False
    with _job_lock:
        if _in_own_job:
            return True
        try:
            job = _kill_on_close_job()
        except OSError as exc:
            log.warning("could not create a kill-on-close job: %s", exc)
            return False
        kernel32 = _kernel32()
        # A process already in another program's job nests ours inside it (Windows 8+).
        if not kernel32.AssignProcessToJobObject(job, kernel32.GetCurrentProcess()):
            log.warning("could not join our own kill-on-close job (error %s): children are "
                        "assigned to it after they start instead", ctypes.get_last_error())
            return False
        _in_own_job = True
        return True


def in_own_job() -> bool:
    """Whether join_own_kill_on_close_job succeeded in this process."""
    return _in_own_job


def bind_child_to_us(pid: int) -> bool:
    """Windows: make sure child `pid` is in our kill-on-close job. After
    join_own_kill_on_close_job it already is (inherited at creation), which
    this only checks; otherwise it assigns the child now, the older and racy
    path. Elsewhere a no-op (L0 is armed by the child itself on Linux; macOS
    has none)."""
    if os.name != "nt" or _jobs_disabled():
        return False
    from ctypes import wintypes

    kernel32 = _kernel32()
    PROCESS_SET_QUOTA, PROCESS_TERMINATE = 0x0100, 0x0001
    # IsProcessInJob needs only QUERY_LIMITED on Windows; wine 8 wants QUERY_INFORMATION.
    PROCESS_QUERY_INFORMATION, PROCESS_QUERY_LIMITED_INFORMATION = 0x0400, 0x1000
    job = _kill_on_close_job()
    handle = kernel32.OpenProcess(
        PROCESS_SET_QUOTA | PROCESS_TERMINATE | PROCESS_QUERY_INFORMATION
        | PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        log.warning("OpenProcess(%s) failed: %s", pid, ctypes.get_last_error())
        return False
    try:
        inside = wintypes.BOOL(False)
        if _in_own_job and kernel32.IsProcessInJob(handle, job, ctypes.byref(inside)) and inside:
            return True   # inherited at creation: nothing to do (and wine refuses a re-assign)
        if not kernel32.AssignProcessToJobObject(job, handle):
            log.warning("AssignProcessToJobObject(%s) failed: %s", pid, ctypes.get_last_error())
            return False
    finally:
        kernel32.CloseHandle(handle)
    return True


# ------------------------------------------------------------------------ L1
# One function per OS mechanism for "block until process `pid` has exited".
# Each returns False when its mechanism is missing here, so the caller can
# fall through to the next one.
def _wait_pidfd(pid: int) -> bool:
    """Linux >= 5.3: a pidfd becomes readable when the process exits."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # e.g. seccomp or an old kernel behind a new libc
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)
    return True


def _wait_kqueue(pid: int) -> bool:
    """macOS and the BSDs: EVFILT_PROC with NOTE_EXIT."""
    if not hasattr(select, "kqueue"):
        return False
    kq = select.kqueue()
    try:
        ev = select.kevent(pid, filter=select.KQ_FILTER_PROC, fflags=select.KQ_NOTE_EXIT,
                           flags=select.KQ_EV_ADD | select.KQ_EV_ONESHOT)
        try:
            kq.control([ev], 1, None)
        except ProcessLookupError:
            pass
        return True
    finally:
        kq.close()


def _wait_process_handle(pid: int) -> bool:
    """Windows: a SYNCHRONIZE handle is signalled when the process ends."""
    if os.name != "nt":
        return False
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    SYNCHRONIZE, INFINITE = 0x00100000, 0xFFFFFFFF
    handle = kernel32.OpenProcess(SYNCHRONIZE, False, pid)
    if not handle:
        return True  # no such process (any more)
    kernel32.WaitForSingleObject(wintypes.HANDLE(handle), INFINITE)
    kernel32.CloseHandle(wintypes.HANDLE(handle))
    return True


def _wait_polling(pid: int) -> bool:
    """Last resort anywhere: signal 0 every 0.2 s."""
    while _pid_alive(pid):
        time.sleep(0.2)
    return True


def _wait_for_pid_exit(pid: int) -> None:
    """Block until process `pid` has exited, by the best means the OS has."""
    for wait in (_wait_pidfd, _wait_kqueue, _wait_process_handle, _wait_polling):
        if wait(pid):
            return


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start(name: str, target: Callable[[], None]) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


def watch_parent_pid(parent_pid: int, on_death: Callable[[str], None]) -> threading.Thread:
    def run():
        _wait_for_pid_exit(parent_pid)
        on_death(f"parent process {parent_pid} exited")
    return _start("lifeline-parent-pid", run)


def watch_stdin_eof(on_eof: Callable[[str], None]) -> threading.Thread:
    """The tray keeps a pipe to our stdin open; EOF means the tray is gone."""
    def run():
        stream = sys.stdin.buffer if sys.stdin else None
        try:
            while stream is not None and stream.read(4096):
                pass
        except (OSError, ValueError):
            pass
        on_eof("stdin lifeline closed")
    return _start("lifeline-stdin", run)


def watch_mp_parent(on_death: Callable[[str], None]) -> threading.Thread | None:
    """Worker side: multiprocessing's parent sentinel becomes ready when the
    parent dies. (A multiprocessing.Queue would not notice.)"""
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return None

    def run():
        wait([parent.sentinel])
        on_death(f"parent process {parent.pid} exited")
    return _start("lifeline-mp-parent", run)
