#!/usr/bin/env python3
"""Worker crash -> serving again: SIGKILL the worker, then time until a
transcription request succeeds on its successor (the client retries on 503
the way a real one would, every 20 ms). Baseline in the same run: a cold
start of the whole service to its ready line.

Target (issue 2): <= 2 s with tiny.en on CPU (median).

    python bench/restart.py [--trials 10]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time

import httpx

from _common import leftovers_of_run, scratch, speech, start_service, summary, verdict


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    d = scratch()
    wav = speech.make_speech(d, "fox").read_bytes()
    cold = []
    for _ in range(3):
        t0 = time.perf_counter()
        s = start_service(d)
        cold.append(time.perf_counter() - t0)
        s.stop()
    svc = start_service(d)
    client = httpx.Client(timeout=60)
    times = []
    try:
        for _ in range(args.trials):
            worker = client.get(svc.url + "/v1/status").json()["worker_pid"]
            t0 = time.perf_counter()
            os.kill(worker, signal.SIGKILL)
            while True:
                r = client.post(svc.url + "/v1/audio/transcriptions", files={"file": ("a.wav", wav)})
                if r.status_code == 200:
                    break
                time.sleep(0.02)
            times.append(time.perf_counter() - t0)
            time.sleep(11)  # past the fast-failure window, as a real crash would be
    finally:
        svc.stop()
    orphans = leftovers_of_run()
    med = statistics.median(times)
    print(f"cold start to ready line (baseline): {summary(cold)}")
    print(f"worker SIGKILL -> next request served: {summary(times)}")
    print(f"target <= 2 s median: {verdict(med <= 2.0)}; orphans: {orphans}")
    return 0 if med <= 2.0 and orphans == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
