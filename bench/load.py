#!/usr/bin/env python3
"""Load: file clients at rising concurrency, then live streams beside file work.

Against a freshly started service on the bundled tiny.en, loopback only:

  (a) file clients at concurrency 1, 2, 4, 8, 16, each posting the fox clip
      --rounds times: the latency median per level, the concurrency where
      it doubles (against concurrency 1), that beyond --max-queue waiting
      the service sheds with 503 + Retry-After (never another status), and
      the service's and the worker's RSS after each level (flat: the last
      within --rss-slack-mb of the first).
  (b) mixed: 4 live streams in real time (20 ms frames, four utterances each,
      started STAGGER_S apart) beside 8 file clients looping on the fox clip:
      end of speech -> final per stream; target: every stream's median <= 1.5 s.

Exits 0 when every target holds (and no process of the run survives it), 1
otherwise. Usage: python bench/load.py [--rounds 3] [--max-queue 8] [--skip-mixed | --skip-files]
Two to four minutes here (2 cores).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time

import httpx
import numpy as np
import psutil

from _common import leftovers_of_run, scratch, start_service, verdict
from live_latency import speech_span, stream
from tests.support import speech
from tests.support.speech import read_wav

LEVELS = (1, 2, 4, 8, 16)
RATE = 16000
FINAL_TARGET_S = 1.5
STREAMS, FILE_CLIENTS = 4, 8
STREAM_KEYS = ("fox", "apples", "weather", "train")
# Streams of different people do not speak in lockstep: each starts this much
# after the previous one, so their utterances end at different moments.
STAGGER_S = 1.2


def rss_mb(pid: int | None) -> float | None:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20 if pid else None
    except psutil.Error:
        return None


def pids(url: str) -> tuple[int, int]:
    st = httpx.get(url + "/v1/status", timeout=10).json()
    return st["service_pid"], st["worker_pid"]


def post(http: httpx.Client, url: str, data: bytes) -> tuple[int, float, str | None]:
    t = time.monotonic()
    r = http.post(url + "/v1/audio/transcriptions", files={"file": ("fox.wav", data)})
    return r.status_code, time.monotonic() - t, r.headers.get("Retry-After")


def level(url: str, data: bytes, clients: int, rounds: int) -> dict:
    """`clients` threads, each posting `rounds` times, all started together."""
    ok, shed, other, no_retry_after = [], 0, [], 0
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client():
        nonlocal shed, no_retry_after
        with httpx.Client(timeout=300) as http:
            start.wait()
            for _ in range(rounds):
                code, took, retry_after = post(http, url, data)
                with lock:
                    if code == 200:
                        ok.append(took)
                    elif code == 503:
                        shed += 1
                        no_retry_after += retry_after is None
                    else:
                        other.append(code)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"clients": clients, "ok": len(ok), "shed": shed, "other": other,
            "no_retry_after": no_retry_after,
            "median": statistics.median(ok) if ok else None}


def part_a(url: str, data: bytes, args) -> bool:
    print(f"(a) file clients on the fox clip, {args.rounds} requests each, "
          f"--max-queue {args.max_queue}")
    print(f"{'clients':>7s} {'ok':>4s} {'503':>4s} {'median s':>9s} {'service MB':>10s} "
          f"{'worker MB':>9s}")
    rows = []
    for n in LEVELS:
        row = level(url, data, n, args.rounds)
        svc_pid, worker_pid = pids(url)
        row["service_mb"], row["worker_mb"] = rss_mb(svc_pid), rss_mb(worker_pid)
        rows.append(row)
        med = f"{row['median']:.3f}" if row["median"] is not None else "-"
        print(f"{n:7d} {row['ok']:4d} {row['shed']:4d} {med:>9s} {row['service_mb']:10.0f} "
              f"{row['worker_mb']:9.0f}" + (f"  other statuses: {row['other']}" if row["other"]
                                             else ""), flush=True)
    base = rows[0]["median"]
    doubled = next((r["clients"] for r in rows if r["median"] and r["median"] >= 2 * base), None)
    beyond = [r for r in rows if r["clients"] > args.max_queue + 1]
    sheds = all(r["shed"] > 0 for r in beyond)
    clean = all(not r["other"] and not r["no_retry_after"] for r in rows)
    growth = {k: rows[-1][k] - rows[0][k] for k in ("service_mb", "worker_mb")}
    flat = all(g <= args.rss_slack_mb for g in growth.values())
    print(f"  latency doubles at concurrency {doubled} (median {base:.3f} s at 1)")
    print(f"  beyond --max-queue ({args.max_queue} waiting + 1 running) it sheds with 503 + "
          f"Retry-After: {verdict(sheds and clean)}")
    print(f"  RSS growth first -> last level: service {growth['service_mb']:+.0f} MB, worker "
          f"{growth['worker_mb']:+.0f} MB (<= {args.rss_slack_mb} MB): {verdict(flat)}")
    return sheds and clean and flat


def stream_audio(work) -> tuple[np.ndarray, list[tuple[float, float]]]:
    pieces, spans, at = [np.zeros(int(0.5 * RATE), np.int16)], [], int(0.5 * RATE)
    gap = np.zeros(int(1.5 * RATE), np.int16)
    for key in STREAM_KEYS:
        x = np.frombuffer(read_wav(speech.make_speech(work, key)), "<i2")
        a, b = speech_span(x)
        spans.append(((at + a) / RATE, (at + b) / RATE))
        pieces += [x, gap]
        at += x.size + gap.size
    return np.concatenate(pieces), spans


def latencies(events, spans) -> list[float | None]:
    out = []
    for s0, s1 in spans:
        mine = [t for t, e in events if e.get("type") == "final" and s0 - 0.6 <= e["start"] < s1]
        out.append(round(mine[-1] - s1, 3) if mine else None)
    return out


def part_b(url: str, data: bytes, work) -> bool:
    print(f"\n(b) {STREAMS} live streams in real time beside {FILE_CLIENTS} file clients "
          "looping on the fox clip")
    audio, spans = stream_audio(work)
    stop = threading.Event()
    files = {"ok": 0, "shed": 0, "other": []}
    lock = threading.Lock()

    def client():
        with httpx.Client(timeout=300) as http:
            while not stop.is_set():
                code, _, _ = post(http, url, data)
                with lock:
                    if code == 200:
                        files["ok"] += 1
                    elif code == 503:
                        files["shed"] += 1
                        time.sleep(0.2)
                    else:
                        files["other"].append(code)
    threads = [threading.Thread(target=client) for _ in range(FILE_CLIENTS)]
    for th in threads:
        th.start()
    time.sleep(2.0)  # the worker is busy with file work before the streams start

    async def one(i: int):
        await asyncio.sleep(i * STAGGER_S)
        return await stream(url, audio)

    async def all_streams():
        return await asyncio.gather(*(one(i) for i in range(STREAMS)), return_exceptions=True)
    try:
        results = asyncio.run(all_streams())
    finally:
        stop.set()
        for th in threads:
            th.join()
    ok = True
    for i, res in enumerate(results):
        if isinstance(res, BaseException):
            print(f"  stream {i}: failed: {res!r}")
            ok = False
            continue
        events, _ = res
        lat = latencies(events, spans)
        errors = [e.get("message") for _, e in events if e.get("type") == "error"]
        got = [v for v in lat if v is not None]
        med = statistics.median(got) if got else None
        good = med is not None and med <= FINAL_TARGET_S and None not in lat and not errors
        ok &= good
        print(f"  stream {i}: end of speech -> final {lat}, median "
              f"{'-' if med is None else f'{med:.3f}'} s (<= {FINAL_TARGET_S}): {verdict(good)}"
              + (f"; errors: {errors}" if errors else ""))
    print(f"  file requests meanwhile: {files['ok']} answered, {files['shed']} shed (503)"
          + (f", other statuses {files['other']}" if files["other"] else ""))
    return ok and not files["other"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="requests per file client per level")
    ap.add_argument("--max-queue", type=int, default=8)
    ap.add_argument("--rss-slack-mb", type=float, default=100.0)
    ap.add_argument("--skip-mixed", action="store_true", help="run (a) only")
    ap.add_argument("--skip-files", action="store_true", help="run (b) only")
    args = ap.parse_args()

    work = scratch()
    data = speech.make_speech(work, "fox").read_bytes()
    svc = start_service(work, "--max-queue", str(args.max_queue))
    t0 = time.monotonic()
    try:
        httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": ("fox.wav", data)},
                   timeout=300)  # warm-up: the first decode pays for lazy loading
        ok = True
        if not args.skip_files:
            ok &= part_a(svc.url, data, args)
        if not args.skip_mixed:
            ok &= part_b(svc.url, data, work)
    finally:
        svc.stop()
    orphans = leftovers_of_run()
    print(f"\nprocesses left after stop: {orphans}; {time.monotonic() - t0:.0f} s")
    ok &= orphans == 0
    print(f"load: {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
