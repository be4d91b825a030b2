"""Runs under the *Windows* python of the wine lane (never on Linux): the
eyes of tests/windows inside wine, where Windows pids and handles live.

    wine_probe.py watch TIMEOUT PID...   open a SYNCHRONIZE handle on each pid,
        print {"armed": ...}, then wait for each to end and print
        {"gone": {pid: time.time()}, "alive": [...], "survivors": [...]}
    wine_probe.py ps                     print {"survivors": [...]}
    wine_probe.py suspend PID...         NtSuspendProcess each: its threads stop,
        its lifeline (L1) among them, as when native code holds the GIL; only
        the kernel (the job, L0) can end it then. Prints {"suspended": [...]}
    wine_probe.py kill PID...            TerminateProcess each (a test's own cleanup)
    wine_probe.py break PID              attach to PID's console and raise
        CTRL_BREAK_EVENT there; prints {"attached": bool, "sent": bool, "error": int}

"survivors" are the python.exe processes of this wine prefix other than the
probe itself: the prefix is the lane's own, so any of them is ours.
A handle opened before the kill is the only race-free way to see a process
end: a pid looked up afterwards may already name another process.
"""
import ctypes
import json
import os
import sys
import time
from ctypes import wintypes

import psutil

SYNCHRONIZE = 0x00100000
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.OpenProcess.restype = wintypes.HANDLE
kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
kernel32.WaitForMultipleObjects.argtypes = [wintypes.DWORD, ctypes.c_void_p, wintypes.BOOL,
                                            wintypes.DWORD]
kernel32.WaitForSingleObject.argtypes = [wintypes.HANDLE, wintypes.DWORD]


def survivors() -> list[dict]:
    me = os.getpid()
    out = []
    for pid in psutil.pids():
        if pid == me:
            continue
        try:
            p = psutil.Process(pid)
            if p.name().lower() != "python.exe":
                continue
            out.append({"pid": pid, "ppid": p.ppid(), "cmdline": " ".join(p.cmdline())[:200]})
        except (psutil.Error, OSError):
            continue   # gone meanwhile, or a wine system process psutil cannot read
    return out


def _open(pid: int, access: int):
    return kernel32.OpenProcess(access, False, pid)


def suspend(pids: list[int]) -> None:
    PROCESS_SUSPEND_RESUME = 0x0800
    ntdll = ctypes.WinDLL("ntdll")
    ntdll.NtSuspendProcess.argtypes = [wintypes.HANDLE]
    done = []
    for pid in pids:
        h = _open(pid, PROCESS_SUSPEND_RESUME)
        if h and ntdll.NtSuspendProcess(h) == 0:
            done.append(pid)
    say({"suspended": done})


def kill(pids: list[int]) -> None:
    PROCESS_TERMINATE = 0x0001
    kernel32.TerminateProcess.argtypes = [wintypes.HANDLE, wintypes.UINT]
    done = []
    for pid in pids:
        h = _open(pid, PROCESS_TERMINATE)
        if h and kernel32.TerminateProcess(h, 1):
            done.append(pid)
    say({"killed": done})


def ctrl_break(pid: int) -> None:
    """CTRL_BREAK_EVENT reaches every process attached to a console: attach
    to the target's, and keep this probe itself alive through it."""
    CTRL_BREAK_EVENT = 1
    handler_type = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)
    keep = handler_type(lambda event: True)   # ours: swallow the event
    kernel32.FreeConsole()
    attached = bool(kernel32.AttachConsole(wintypes.DWORD(pid)))
    error = ctypes.get_last_error() if not attached else 0
    sent = False
    if attached:
        kernel32.SetConsoleCtrlHandler(keep, True)
        sent = bool(kernel32.GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0))
        error = 0 if sent else ctypes.get_last_error()
        time.sleep(0.5)   # the event is delivered on a new thread of each process
    say({"attached": attached, "sent": sent, "error": error})


def say(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def watch(timeout: float, pids: list[int]) -> None:
    handles = {pid: kernel32.OpenProcess(SYNCHRONIZE, False, pid) for pid in pids}
    say({"armed": [p for p, h in handles.items() if h],
         "missing": [p for p, h in handles.items() if not h]})
    gone, deadline = {}, time.time() + timeout
    pending = {p: h for p, h in handles.items() if h}
    while pending and time.time() < deadline:
        for pid, h in list(pending.items()):
            if kernel32.WaitForSingleObject(h, 0) == 0:   # WAIT_OBJECT_0: it ended
                gone[pid] = time.time()
                del pending[pid]
        time.sleep(0.01)   # 10 ms resolution is enough against a 0.5 s target
    time.sleep(0.3)        # let a job's kill reach every member before listing
    say({"gone": gone, "alive": sorted(pending), "survivors": survivors()})


if __name__ == "__main__":
    if sys.argv[1] == "watch":
        watch(float(sys.argv[2]), [int(a) for a in sys.argv[3:]])
    elif sys.argv[1] == "suspend":
        suspend([int(a) for a in sys.argv[2:]])
    elif sys.argv[1] == "kill":
        kill([int(a) for a in sys.argv[2:]])
    elif sys.argv[1] == "break":
        ctrl_break(int(sys.argv[2]))
    else:
        say({"survivors": survivors()})
