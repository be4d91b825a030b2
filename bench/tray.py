#!/usr/bin/env python3
"""Tray benchmark: launch → icon visible, launch → service ready, tray RSS,
idle CPU of the tray over 30 s, Quit → every process gone.

    python bench/tray.py [--runs 3] [--idle 30]

Runs the real `python -m gui` on an X display with a tray host: the one in
DISPLAY when ASR_TRAY_TEST_TRAY_HOST says a tray host runs there, otherwise
its own Xvfb + trayer (packaging/dev.py's Desktop). Timings come from the
tray's test-hook snapshot (ASR_TRAY_TEST_HOOKS=1): "icon visible" is when the
tray host has embedded the icon (Qt reports its geometry); "ready" is when
the tray shows the service running (its ready line arrived). Quit is the menu's
Quit action (sent over the single-instance socket, the same QAction a click
triggers); "all gone" is when no process with the run's markers or live
registry record remains. Medians over the runs; idle CPU is measured once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "packaging"))

import psutil  # noqa: E402

from tests.support.desktop import TrayProc, wait_no_survivors  # noqa: E402

TARGETS = {"icon": 1.5, "rss_mb": 150.0, "idle_cpu": 1.0, "quit": 1.5}


def one_run(idle_s: float) -> dict:
    rt = Path(tempfile.mkdtemp(prefix="asr-bench-tray-")) / "runtime"
    rt.mkdir()
    t0 = time.time()
    tray = TrayProc(rt)
    out: dict = {}
    try:
        snap = tray.wait_for(lambda s: s["icon_visible_at"], "icon", 30)
        out["icon"] = snap["icon_visible_at"] - t0
        while True:
            snap = tray.snapshot()
            if snap.get("state") == "running":
                out["ready"] = time.time() - t0
                break
            if snap.get("state") == "error" or time.time() - t0 > 120:
                raise SystemExit(f"the service did not start: {snap.get('error')}\n{tray.log_tail()}")
            time.sleep(0.01)
        proc = psutil.Process(tray.pid)
        time.sleep(3)  # let start-up work (leftover scan, first polls) settle
        if idle_s:
            c0, w0 = proc.cpu_times(), time.monotonic()
            time.sleep(idle_s)
            c1, w1 = proc.cpu_times(), time.monotonic()
            out["idle_cpu"] = 100 * ((c1.user + c1.system) - (c0.user + c0.system)) / (w1 - w0)
        out["rss_mb"] = proc.memory_info().rss / 2**20
        q0 = time.monotonic()
        tray.send("action quit")
        tray.wait_exit(10)
        by_markers, by_records, _ = wait_no_survivors(rt, 10)
        out["quit"] = time.monotonic() - q0
        if by_markers or by_records:
            out["survivors"] = sorted(by_markers) + [r.pid for r in by_records]
        return out
    finally:
        tray.kill()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    args = ap.parse_args()

    desk = None
    if not (os.environ.get("DISPLAY") and os.environ.get("ASR_TRAY_TEST_TRAY_HOST")):
        from dev import Desktop

        desk = Desktop()
        env = desk.start()
        if "ASR_TRAY_TEST_TRAY_HOST" not in env:
            print("needs Xvfb and trayer (apt-get install xvfb trayer)", file=sys.stderr)
            desk.stop()
            return 2
        os.environ.update(env)
    os.environ.pop("QT_QPA_PLATFORM", None)
    try:
        runs = []
        for i in range(args.runs):
            r = one_run(args.idle if i == 0 else 0)
            runs.append(r)
            print(f"run {i + 1}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                               for k, v in r.items()), flush=True)
    finally:
        if desk is not None:
            desk.stop()

    def med(key):
        vals = [r[key] for r in runs if key in r]
        return statistics.median(vals) if vals else float("nan")

    rows = [("launch -> icon visible", med("icon"), f"<= {TARGETS['icon']} s", med("icon") <= TARGETS["icon"], "s"),
            ("launch -> service ready", med("ready"), "(no target)", True, "s"),
            ("tray RSS", med("rss_mb"), f"<= {TARGETS['rss_mb']:.0f} MB", med("rss_mb") <= TARGETS["rss_mb"], "MB"),
            (f"tray idle CPU over {args.idle:.0f} s", runs[0].get("idle_cpu", float("nan")),
             f"< {TARGETS['idle_cpu']} %", runs[0].get("idle_cpu", 99) < TARGETS["idle_cpu"], "%"),
            ("Quit -> all gone", med("quit"), f"<= {TARGETS['quit']} s", med("quit") <= TARGETS["quit"], "s")]
    print(f"\nmedian of {len(runs)} run(s):")
    for name, value, target, ok, unit in rows:
        print(f"  {name:30} {value:8.3f} {unit:3} target {target:12} {'ok' if ok else 'MISSED'}")
    survivors = [r["survivors"] for r in runs if r.get("survivors")]
    if survivors:
        print(f"SURVIVORS after quit: {survivors}")
        return 1
    return 0 if all(ok for *_x, ok, _u in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
