"""Runs under the *Windows* python of the wine lane (never on Linux): the
eyes of tests/windows inside wine, where Windows pids and handles live.

    wine_probe.py watch TIMEOUT PID...   open a SYNCHRONIZE handle on each pid,
        print {"armed": ...}, then wait for each to end and print
        {"gone": {pid: time.time()}, "alive": [...], "survivors": [...]}
    wine_probe.py ps                     print {"survivors": [...]}

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
    else:
        say({"survivors": survivors()})
