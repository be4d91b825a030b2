#!/usr/bin/env python3
"""Worker memory: RSS of our worker with Whisper and Silero VAD loaded, after
a transcription, against two baselines measured in the same run, each a
fresh process doing the same transcription:
  * faster-whisper alone (no VAD model),
  * faster-whisper + Silero VAD through torch JIT (the `silero-vad` package),
    the way the app this grew from ran it.

Target (issue 2): worker <= 300 MB with tiny.en.

    python bench/memory.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import textwrap

import httpx
import psutil

from _common import clip, leftovers_of_run, scratch, start_service, verdict

BASELINE = textwrap.dedent("""
    import json, sys, psutil
    from faster_whisper import WhisperModel
    from service.config import ModelConfig
    from service.worker.engine import resolve_model
    cfg = ModelConfig()
    if sys.argv[2] == "torch-vad":
        from silero_vad import load_silero_vad
        vad = load_silero_vad()
    m = WhisperModel(resolve_model(cfg.model), device="cpu", compute_type="int8",
                     cpu_threads=cfg.threads())
    segs, _ = m.transcribe(sys.argv[1], beam_size=5)
    "".join(s.text for s in segs)
    print(json.dumps({"rss": psutil.Process().memory_info().rss}))
""")


def baseline(audio, kind: str) -> float | None:
    r = subprocess.run([sys.executable, "-c", BASELINE, str(audio), kind], capture_output=True,
                       text=True)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])["rss"] / 2**20


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    d = scratch()
    audio = clip(d)
    ours, tree, alone, torch_vad = [], [], [], []
    for _ in range(args.runs):
        svc = start_service(d)
        try:
            with open(audio, "rb") as fh:
                httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": fh},
                           timeout=120).raise_for_status()
            ours.append(psutil.Process(svc.worker_pid).memory_info().rss / 2**20)
            svc_proc = psutil.Process(svc.pid)
            tree.append(sum(p.memory_info().rss for p in [svc_proc, *svc_proc.children(True)]) / 2**20)
        finally:
            svc.stop()
        alone.append(baseline(audio, "alone"))
        torch_vad.append(baseline(audio, "torch-vad"))
    orphans = leftovers_of_run()
    med = statistics.median(ours)

    def show(v):
        v = [x for x in v if x is not None]
        return f"{statistics.median(v):6.0f} MB (n={len(v)})" if v else "  n/a (silero-vad/torch not installed)"
    print("RSS after loading and transcribing the same clip, medians:")
    print(f"  our worker (Whisper + Silero via onnxruntime): {med:6.0f} MB (n={len(ours)})")
    print(f"  our whole tree (service + worker + tracker)  : {statistics.median(tree):6.0f} MB")
    print(f"  baseline: faster-whisper alone               : {show(alone)}")
    print(f"  baseline: faster-whisper + Silero torch JIT  : {show(torch_vad)}")
    print(f"target worker <= 300 MB: {verdict(med <= 300)}; orphans: {orphans}")
    return 0 if med <= 300 and orphans == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
