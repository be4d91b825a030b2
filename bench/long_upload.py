#!/usr/bin/env python3
"""Memory per request is bounded: the worker's peak RSS while it transcribes
a 3-hour upload, against its own idle RSS in the same run (issue 10, item 6).

    python bench/long_upload.py [--hours 3]

The upload is a FLAC of silence with a sentence at each end (sox), the kind
of small file that decodes to hours of samples. Peak is the kernel's
high-water mark (VmHWM, reset before the request), so no short peak is
missed between polls. Target: peak <= idle + 300 MB, memory given back after.
Linux only (/proc).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import httpx
import psutil

from _common import leftovers_of_run, scratch, speech, start_service, verdict

TARGET_MB = 300


def rss_mib(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


def hwm_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        line = next(l for l in fh if l.startswith("VmHWM"))
    return int(line.split()[1]) / 1024


def long_file(d, hours: float):
    fox = speech.make_speech(d, "fox")
    silence = d / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(silence),
                    "trim", "0", str(hours * 3600 - 8)], check=True)
    out = d / "long.flac"
    subprocess.run(["sox", str(fox), str(silence), str(fox), str(out)], check=True)
    silence.unlink()
    return fox, out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=3.0)
    args = ap.parse_args()
    d = scratch()
    fox, upload = long_file(d, args.hours)
    svc = start_service(d, "--max-upload-mb", "400", "--request-timeout", "3600")
    try:
        worker = psutil.Process(svc.worker_pid)
        # A first, ordinary request: the idle figure is a worker that has
        # transcribed once, as every worker in use has.
        httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": ("fox.wav", fox.read_bytes())},
                   timeout=120, trust_env=False).raise_for_status()
        idle = rss_mib(worker)
        with open(f"/proc/{worker.pid}/clear_refs", "w") as fh:
            fh.write("5")   # resets VmHWM to the current RSS
        t0 = time.monotonic()
        r = httpx.post(svc.url + "/v1/audio/transcriptions",
                       files={"file": (upload.name, upload.read_bytes())},
                       data={"response_format": "verbose_json"}, timeout=3600, trust_env=False)
        took = time.monotonic() - t0
        peak = hwm_mib(worker.pid)
        after = rss_mib(worker)
        body = r.json()
    finally:
        svc.stop()
    orphans = leftovers_of_run()
    size = upload.stat().st_size / 2**20
    print(f"upload: {args.hours:g} h of audio in a {size:.1f} MiB FLAC; answered {r.status_code} "
          f"in {took:.1f} s, duration {body.get('duration')} s, {len(body.get('segments', []))} segments")
    print(f"worker RSS: idle {idle:.0f} MiB, peak {peak:.0f} MiB (+{peak - idle:.0f}), "
          f"after {after:.0f} MiB")
    ok = r.status_code == 200 and peak - idle <= TARGET_MB and orphans == 0
    print(f"target peak <= idle + {TARGET_MB} MB, 0 orphans (orphans: {orphans}): {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
