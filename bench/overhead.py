#!/usr/bin/env python3
"""Wall time of POST /v1/audio/transcriptions on a 10-30 s clip against
WhisperModel.transcribe called directly in this process with the same
settings (bundled tiny.en, int8, same thread count, beam 5, Silero VAD
filter on, file decoded by faster-whisper in both cases). The runs alternate
so that noise from other work on the machine hits both alike.

Target (issue 2): service / direct <= 1.10 (medians).

    python bench/overhead.py [--runs 9]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import httpx

from _common import clip, leftovers_of_run, scratch, start_service, summary, verdict


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    d = scratch()
    audio = clip(d)
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from service.config import ModelConfig
    from service.worker.engine import resolve_model

    cfg = ModelConfig()
    seconds = len(decode_audio(str(audio))) / 16000
    model = WhisperModel(resolve_model(cfg.model), device="cpu", compute_type="int8",
                         cpu_threads=cfg.threads())

    def direct() -> float:
        t0 = time.perf_counter()
        segments, _info = model.transcribe(str(audio), beam_size=5, vad_filter=True)
        "".join(s.text for s in segments)
        return time.perf_counter() - t0

    svc = start_service(d)
    data = audio.read_bytes()
    client = httpx.Client(timeout=120)

    def service() -> float:
        t0 = time.perf_counter()
        r = client.post(svc.url + "/v1/audio/transcriptions", files={"file": ("clip.wav", data)})
        r.raise_for_status()
        return time.perf_counter() - t0

    try:
        direct(), service()  # warm both
        d_times, s_times = [], []
        for _ in range(args.runs):
            d_times.append(direct())
            s_times.append(service())
    finally:
        svc.stop()
    orphans = leftovers_of_run()
    ratio = statistics.median(s_times) / statistics.median(d_times)
    print(f"clip: {seconds:.1f} s of espeak speech, tiny.en int8, {cfg.threads()} threads, beam 5, VAD on")
    print(f"direct WhisperModel.transcribe : {summary(d_times)}")
    print(f"service POST /v1/audio/...     : {summary(s_times)}")
    print(f"ratio service/direct (medians) : {ratio:.3f}   target <= 1.10: {verdict(ratio <= 1.10)}")
    print(f"orphans after stop: {orphans}")
    return 0 if ratio <= 1.10 and orphans == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
