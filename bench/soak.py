#!/usr/bin/env python3
"""Worker-kill soak: file clients loop while the worker is SIGKILLed on a timer.

Against a freshly started service on the bundled tiny.en, loopback only, for
--minutes: --clients threads post one of four espeak clips of known text
(chosen in turn, so neighbours differ), while the worker is SIGKILLed every
--kill-every seconds. Every answer is checked:

  hung     a request that did not end within --request-timeout (+ a margin)
  wrong    a 200 whose text is not its own clip's (WER above --max-wer: an
           answer meant for another request, or a broken decode)
  unclean  any status but 200 and 503, or a 503 without our error sentence
  orphans  processes of the run's tree left after the service stopped

Target: 0 of each. Prints the counts and exits 0/1. Bounded: the clients stop
at the deadline and the service is stopped whatever happened.
Usage: python bench/soak.py [--minutes 2] [--kill-every 15] [--clients 3]
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

import httpx

from _common import leftovers_of_run, scratch, start_service, verdict
from tests.support import speech

KEYS = ("fox", "apples", "weather", "train")
# tiny.en hears espeak's "quick brown fox" as "quick round fox" half the time;
# another clip's text scores near 1.0.
MAX_WER = 0.45


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--kill-every", type=float, default=15.0)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--request-timeout", type=float, default=60.0)
    ap.add_argument("--max-wer", type=float, default=MAX_WER)
    args = ap.parse_args()

    work = scratch()
    clips = {k: speech.make_speech(work, k).read_bytes() for k in KEYS}
    svc = start_service(work, "--request-timeout", str(args.request_timeout))
    counts = {"ok": 0, "shed": 0, "hung": 0, "wrong": 0, "unclean": 0, "kills": 0}
    examples: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.minutes * 60
    stop = threading.Event()

    def count(key: str, why: str | None = None) -> None:
        with lock:
            counts[key] += 1
            if why and len(examples) < 10:
                examples.append(why)

    def client(n: int) -> None:
        i = n
        with httpx.Client(timeout=args.request_timeout + 10) as http:
            while time.monotonic() < deadline:
                key = KEYS[i % len(KEYS)]
                i += 1
                try:
                    r = http.post(svc.url + "/v1/audio/transcriptions",
                                  files={"file": (f"{key}.wav", clips[key])})
                except httpx.TimeoutException:
                    count("hung", f"{key}: no answer within {args.request_timeout + 10:g} s")
                    continue
                except httpx.HTTPError as exc:
                    count("unclean", f"{key}: {exc!r}")
                    continue
                if r.status_code == 200:
                    text = r.json().get("text", "")
                    if speech.wer(speech.SENTENCES[key][2], text) <= args.max_wer:
                        count("ok")
                    else:
                        count("wrong", f"{key}: {text!r}")
                elif r.status_code == 503 and _sentence(r):
                    count("shed")
                    time.sleep(0.2)  # the worker is restarting: retry in a moment
                else:
                    count("unclean", f"{key}: {r.status_code} {r.text[:120]}")

    def killer() -> None:
        while not stop.wait(args.kill_every):
            if time.monotonic() >= deadline:
                return
            try:
                pid = httpx.get(svc.url + "/v1/status", timeout=10).json()["worker_pid"]
            except httpx.HTTPError:
                continue
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                    count("kills")
                except ProcessLookupError:
                    pass

    threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
    kt = threading.Thread(target=killer)
    t0 = time.monotonic()
    try:
        for th in threads + [kt]:
            th.start()
        for th in threads:
            th.join()
    finally:
        stop.set()
        kt.join()
        svc.stop()
    orphans = leftovers_of_run()
    total = sum(counts[k] for k in ("ok", "shed", "hung", "wrong", "unclean"))
    print(f"soak: {time.monotonic() - t0:.0f} s, {args.clients} clients, worker SIGKILLed "
          f"{counts['kills']} times (every {args.kill_every:g} s)")
    print(f"  requests {total}: {counts['ok']} right answers, {counts['shed']} clean 503s")
    print(f"  hung {counts['hung']}, wrong answers {counts['wrong']}, unclean failures "
          f"{counts['unclean']}, orphans {orphans}")
    for why in examples:
        print(f"    {why}")
    ok = not (counts["hung"] or counts["wrong"] or counts["unclean"] or orphans) \
        and counts["ok"] > 0
    print(f"soak: {verdict(ok)}")
    return 0 if ok else 1


def _sentence(r: httpx.Response) -> bool:
    """Our 503: a JSON error object with a message a user can act on."""
    try:
        msg = r.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(msg, str) and len(msg) > 20


if __name__ == "__main__":
    sys.exit(main())
