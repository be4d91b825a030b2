#!/usr/bin/env python3
"""Time from a kill/stop to every process of the tree gone, per scenario.

Each trial starts a fresh service (bundled tiny.en), records the pids of its
whole tree (service, worker, multiprocessing's resource tracker), opens a
pidfd on each so the kernel reports each exit at once, delivers the kill, and
measures until the last one is gone. Orphans: processes of the trial still
alive 3 s later (killed then, and counted).

Targets (issue 2): graceful stop <= 1 s; parent SIGKILL -> worker gone
<= 0.2 s median on Linux; 0 orphans in every trial.

--wine runs the Windows-lane scenarios instead (issue 9): the service tree as
Windows processes under wine (tests/windows/conftest.py starts it, and its
probe times each exit from inside wine through a process handle opened
before the kill). Scenarios: graceful stop (POST /v1/shutdown), SIGKILL of
the service's wine process, SIGKILL of a Python parent's wine process.
Targets: graceful <= 1 s, killed -> worker gone <= 0.5 s, median and max;
0 orphans (python.exe left in the lane's prefix) in every trial.

    python bench/shutdown.py [--trials 20]
    python bench/shutdown.py --wine [--trials 10]
"""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import time

from _common import ROOT, leftovers_of_run, procs, scratch, start_service, summary, verdict


def wait_exits(pids: list[int], timeout: float = 5.0) -> dict[int, float]:
    """pid -> monotonic time of its exit (Linux pidfd; polling elsewhere)."""
    fds = {}
    for pid in pids:
        try:
            fds[os.pidfd_open(pid)] = pid
        except ProcessLookupError:
            pass
    return fds


def gone_times(fds: dict[int, int], t_kill: float, timeout: float = 5.0) -> dict[int, float]:
    out = {}
    deadline = t_kill + timeout
    while fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(fds), [], [], max(0.0, deadline - time.monotonic()))
        now = time.monotonic()
        for fd in ready:
            out[fds.pop(fd)] = now - t_kill
            os.close(fd)
    for fd in fds:
        os.close(fd)
    return out


def trial(scenario: str, d) -> tuple[float | None, float | None, int]:
    """Returns (all gone after, worker gone after, orphans)."""
    parent = None
    if scenario in ("parent SIGKILL (python)", "parent SIGKILL (node)"):
        if scenario.endswith("(node)"):
            cmd = ["node", str(ROOT / "tests/node/electron_parent.js"), sys.executable, "--port", "0"]
        else:
            cmd = [sys.executable, str(ROOT / "tests/support/python_parent.py"), "--port", "0"]
        parent = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        ready = json.loads(parent.stdout.readline())
        svc_pid, worker_pid = ready["pid"], ready["worker_pid"]
        svc = None
    else:
        svc = start_service(d)
        svc_pid, worker_pid = svc.pid, svc.worker_pid
    tree = [p.pid for p in procs.tree(os.environ["ASR_TRAY_RUNTIME_DIR"])]
    fds = wait_exits(tree)
    t0 = time.monotonic()
    if scenario == "SIGTERM (graceful)":
        os.kill(svc_pid, signal.SIGTERM)
    elif scenario == "SIGINT (graceful)":
        os.kill(svc_pid, signal.SIGINT)
    elif scenario == "service SIGKILL":
        os.kill(svc_pid, signal.SIGKILL)
    else:
        os.kill(parent.pid, signal.SIGKILL)
    times = gone_times(fds, t0)
    if svc is not None:
        svc.popen.wait(5)
    if parent is not None:
        parent.wait(5)
    orphans = leftovers_of_run()
    all_gone = max(times.values()) if len(times) == len(tree) else None
    return all_gone, times.get(worker_pid), orphans


SCENARIOS = ["SIGTERM (graceful)", "SIGINT (graceful)", "service SIGKILL",
             "parent SIGKILL (python)", "parent SIGKILL (node)"]


WINE_SCENARIOS = ["wine: graceful stop", "wine: service SIGKILL", "wine: parent SIGKILL"]


def wine_trial(scenario: str, runtime_dir) -> tuple[float, float, int]:
    """One Windows-lane trial: (all gone after, worker gone after, orphans)."""
    from tests.windows import conftest as lane

    svc = lane.WineService(runtime_dir, parent=scenario.endswith("parent SIGKILL"))
    try:
        tree = [*svc.ancestors(), svc.service_pid, svc.worker_pid]
        watch = lane.Probe(tree, timeout=10)
        t0 = time.time()
        if scenario.endswith("graceful stop"):
            svc.post("/v1/shutdown")
        elif scenario.endswith("service SIGKILL"):
            svc.linux_service().send_signal(signal.SIGKILL)
        else:
            svc.proc.send_signal(signal.SIGKILL)   # the Python parent's wine process
        result = watch.result(60)
    finally:
        svc.stop()
        lane.end_prefix()   # a clean prefix for the next trial, whatever this one left
    # The probe lists python.exe of the prefix 0.3 s after the last exit it saw.
    orphans = len(result["alive"]) + len([s for s in result["survivors"]
                                          if s["pid"] not in result["alive"]])
    gone = result["gone"]
    all_gone = max(gone.values()) - t0 if len(gone) == len(tree) else float("inf")
    worker = gone.get(svc.worker_pid, float("inf") + t0) - t0
    return all_gone, worker, orphans


def wine_main(trials: int, scenarios: list[str]) -> int:
    from tests.windows import conftest as lane

    if lane.wine_lane.wine_binary() is None:
        print("the Windows-lane scenarios need wine (python packaging/wine_lane.py setup)")
        return 2
    lane.wine_lane.setup(lane.CACHE)
    d = scratch()
    ok = True
    print(f"Windows lane (wine): stop/kill -> processes gone; {trials} trials each\n")
    for scenario in scenarios:
        alls, workers, orphans = [], [], 0
        for _ in range(trials):
            a, w, o = wine_trial(scenario, d / "runtime")
            alls.append(a)
            workers.append(w)
            orphans += o
        graceful = "graceful" in scenario
        target = 1.0 if graceful else 0.5
        measured = alls if graceful else workers
        hit = (statistics.median(measured) <= target and max(measured) <= target
               and orphans == 0)
        ok &= hit
        print(f"{scenario:26} all gone: {summary(alls)}")
        print(f"{'':26} worker gone: {summary(workers)}  orphans: {orphans}  "
              f"target {'all gone' if graceful else 'worker gone'} <= {target} s "
              f"median and max, 0 orphans: {verdict(hit)}")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--scenario", action="append", choices=SCENARIOS + WINE_SCENARIOS)
    ap.add_argument("--wine", action="store_true", help="the Windows-lane scenarios (issue 9)")
    args = ap.parse_args()
    if args.wine:
        return wine_main(args.trials or 10, args.scenario or WINE_SCENARIOS)
    args.trials = args.trials or 20
    if not hasattr(os, "pidfd_open"):
        print("this benchmark needs Linux (pidfd)")
        return 2
    d = scratch()
    ok = True
    print(f"kill -> every process of the tree gone; {args.trials} trials each\n")
    for scenario in args.scenario or SCENARIOS:
        alls, workers, orphans = [], [], 0
        for _ in range(args.trials):
            a, w, o = trial(scenario, d)
            orphans += o
            if a is not None:
                alls.append(a)
            if w is not None:
                workers.append(w)
        target = 1.0 if "graceful" in scenario else 0.2
        med = statistics.median(workers) if workers else float("inf")
        hit = (statistics.median(alls) if "graceful" in scenario else med) <= target and orphans == 0
        ok &= hit
        print(f"{scenario:26} all gone: {summary(alls)}")
        print(f"{'':26} worker gone: {summary(workers)}  orphans: {orphans}  "
              f"target {'all gone' if 'graceful' in scenario else 'worker gone'} <= {target} s "
              f"median, 0 orphans: {verdict(hit)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
