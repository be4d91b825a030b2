#!/usr/bin/env python3
"""Live-caption latency and accuracy of WS /v1/stream, against the compute floor.

Streams espeak-ng speech of known text, several voices and speeds, in real
time (20 ms frames, like a microphone) to a freshly started service on the
bundled tiny.en, and prints the medians over the utterances of:

  end of speech -> final      target <= 0.6 s
  speech start -> 1st partial target <= 0.5 s
  longest partial gap         target <= 0.5 s while speaking
  word error rate             target: the same as faster-whisper called directly
  compute floor               faster-whisper (beam 5) called directly on each
                              utterance, in this process, after the stream: the
                              VAD's end-of-speech silence plus that compute is the
                              lowest end-of-speech -> final a VAD-driven design gets
                              without speculating

Usage: python bench/live_latency.py [--json] [--gap 1.5]
About two minutes here (2 cores); the service runs in its own runtime directory
and is stopped at the end, and the run fails if any process of it survives.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from _common import leftovers_of_run, scratch, start_service
from tests.support.speech import read_wav, speak, wer, words

UTTERANCES = [
    ("en-us", 150, "The quick brown fox jumps over the lazy dog."),
    ("en-gb", 150, "I like to eat apples and bananas in the morning."),
    ("en+f3", 140, "The weather today is sunny with a light breeze from the west."),
    ("en-us", 170, "Please remember to buy milk, bread and coffee on the way home."),
    ("en-gb", 160, "Our meeting starts at ten and should finish before lunch."),
    ("en+m3", 150, "She sells sea shells by the sea shore every summer."),
    ("en-us", 130, "Turn left at the second traffic light and park behind the library."),
    ("en+f3", 165, "My brother bought a new bicycle because his old one was stolen."),
    ("en-gb", 140, "The children played football in the park until it got dark."),
    ("en+m3", 160, "Could you send me the report before the end of the week?"),
    ("en-us", 150, "We watched a documentary about whales and dolphins last night."),
    ("en+f3", 150, "The train to London leaves from platform four at nine thirty."),
    ("en-us", 180, "I forgot my umbrella so I got completely wet on the way to work."),
    ("en-gb", 150, "A cup of hot tea is the best thing on a cold winter evening."),
    ("en+m3", 140, "The doctor told him to drink more water and sleep eight hours."),
    ("en-us", 160, "Our garden is full of roses, tulips and sunflowers this year."),
]
RATE = 16000
FRAME_S = 0.02
VAD_END_SILENCE_S = 0.3   # service.worker.streaming.Tuning.min_silence_s
TARGETS = {"final": 0.6, "first_partial": 0.5, "partial_gap": 0.5}


def pcm_of(path: Path) -> np.ndarray:
    return np.frombuffer(read_wav(path), "<i2")


def speech_span(x: np.ndarray) -> tuple[int, int]:
    """First and last sample of actual speech (espeak pads with silence)."""
    loud = np.flatnonzero(np.abs(x) > 0.02 * 32768)
    return int(loud[0]), int(loud[-1]) + 1


async def stream(url: str, audio: np.ndarray) -> tuple[list[tuple[float, dict]], float]:
    import websockets

    ws_url = url.replace("http://", "ws://") + f"/v1/stream?sample_rate={RATE}&language=en"
    events: list[tuple[float, dict]] = []
    pcm = audio.astype("<i2").tobytes()
    step = int(FRAME_S * RATE) * 2
    async with websockets.connect(ws_url, proxy=None, max_size=2**20) as ws:
        t0 = time.monotonic()

        async def receive():
            async for msg in ws:
                events.append((time.monotonic() - t0, json.loads(msg)))

        rx = asyncio.create_task(receive())
        for i in range(0, len(pcm), step):
            await ws.send(pcm[i:i + step])
            delay = t0 + (i + step) / 2 / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await ws.send(json.dumps({"type": "stop"}))
        await asyncio.wait_for(rx, 60)
    return events, t0


def direct(paths: list[Path]) -> list[tuple[str, float]]:
    """faster-whisper called directly, beam 5, like any file request would."""
    from faster_whisper import WhisperModel

    from service.worker.engine import resolve_model

    model = WhisperModel(resolve_model("tiny.en"), device="cpu", compute_type="int8",
                         cpu_threads=min(8, os.cpu_count() or 1))
    from faster_whisper.audio import decode_audio

    model.transcribe(decode_audio(str(paths[0])), beam_size=5, language="en")  # warm-up
    out = []
    for p in paths:
        audio = decode_audio(str(p))
        t = time.perf_counter()
        segments, _ = model.transcribe(audio, beam_size=5, language="en")
        text = " ".join(s.text.strip() for s in segments)
        out.append((text, time.perf_counter() - t))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gap", type=float, default=1.5, help="silence between utterances (s)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = ap.parse_args()

    work = scratch()
    paths, pieces, spans = [], [np.zeros(int(0.5 * RATE), np.int16)], []
    at = pieces[0].size
    for i, (voice, speed, text) in enumerate(UTTERANCES):
        p = speak(work / f"u{i}.wav", text, voice, speed)
        x = pcm_of(p)
        a, b = speech_span(x)
        paths.append(p)
        spans.append((at + a, at + b))
        pieces += [x, np.zeros(int(args.gap * RATE), np.int16)]
        at += x.size + int(args.gap * RATE)
    audio = np.concatenate(pieces)
    print(f"{len(UTTERANCES)} utterances, {audio.size / RATE:.1f} s streamed in real time "
          f"({FRAME_S * 1000:.0f} ms frames); load average {os.getloadavg()[0]:.2f}", flush=True)

    svc = start_service(work)
    try:
        events, _ = asyncio.run(stream(svc.url, audio))
    finally:
        svc.stop()
    orphans = leftovers_of_run()
    floor = direct(paths)

    # An event belongs to the utterance it starts in (its start includes the
    # VAD's 0.2 s of lead-in, hence the margin); the gaps are 1 s or more.
    rows = []
    for i, ((voice, speed, text), (a, b)) in enumerate(zip(UTTERANCES, spans)):
        s0, s1 = a / RATE, b / RATE
        mine = [(t, e) for t, e in events if e.get("type") in ("partial", "final")
                and s0 - 0.6 <= e["start"] < s1]
        finals = [(t, e) for t, e in mine if e["type"] == "final"]
        partials = [t for t, e in mine if e["type"] == "partial"]
        final_t = finals[-1][0] if finals else None
        text_out = " ".join(e["text"] for _, e in finals)
        marks = [s0] + [t for t in partials if t <= s1]
        gap = max((y - x for x, y in zip(marks, marks[1:] + [s1])), default=None)
        rows.append({
            "voice": voice, "speed": speed, "seconds": round(s1 - s0, 2),
            "finals": len(finals),
            "final_after_end": round(final_t - s1, 3) if final_t is not None else None,
            "first_partial": round(partials[0] - s0, 3) if partials else None,
            "partial_gap": round(gap, 3) if partials else None,
            "wer_stream": round(wer(text, text_out), 3),
            "wer_direct": round(wer(text, floor[i][0]), 3),
            "direct_compute": round(floor[i][1], 3),
            "text": text_out,
        })

    def med(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(vals), 3) if vals else None

    print(f"\n{'voice':7s} {'spd':>3s} {'len':>5s} {'final':>6s} {'1st P':>6s} {'gap':>5s} "
          f"{'WERs':>5s} {'WERd':>5s} {'fw s':>5s}  text")
    for r in rows:
        f = lambda v: "  -  " if v is None else f"{v:5.2f}"  # noqa: E731
        print(f"{r['voice']:7s} {r['speed']:3d} {r['seconds']:5.2f} {f(r['final_after_end']):>6s} "
              f"{f(r['first_partial']):>6s} {f(r['partial_gap'])} {r['wer_stream']:5.2f} "
              f"{r['wer_direct']:5.2f} {r['direct_compute']:5.2f}  {r['text'][:60]}")
    wer_stream = sum(len(words(t)) * r["wer_stream"] for (_, _, t), r in zip(UTTERANCES, rows))
    wer_direct = sum(len(words(t)) * r["wer_direct"] for (_, _, t), r in zip(UTTERANCES, rows))
    n_words = sum(len(words(t)) for _, _, t in UTTERANCES)
    summary = {
        "final_after_end_median": med("final_after_end"),
        "first_partial_median": med("first_partial"),
        "partial_gap_median": med("partial_gap"),
        "wer_stream": round(wer_stream / n_words, 3),
        "wer_direct": round(wer_direct / n_words, 3),
        "direct_compute_median": med("direct_compute"),
        "floor_median": round(VAD_END_SILENCE_S + med("direct_compute"), 3),
        "utterances_with_one_final": sum(r["finals"] == 1 for r in rows),
        "utterances": len(rows),
    }

    def verdict(value, target):
        return "meets" if value is not None and value <= target else "MISSES"
    print(f"\nmedian over {len(rows)} utterances:")
    print(f"  end of speech -> final      {summary['final_after_end_median']:.3f} s   "
          f"target <= {TARGETS['final']} s: {verdict(summary['final_after_end_median'], TARGETS['final'])}")
    print(f"  speech start -> 1st partial {summary['first_partial_median']:.3f} s   "
          f"target <= {TARGETS['first_partial']} s: "
          f"{verdict(summary['first_partial_median'], TARGETS['first_partial'])}")
    print(f"  longest gap between partials {summary['partial_gap_median']:.3f} s  "
          f"target <= {TARGETS['partial_gap']} s: "
          f"{verdict(summary['partial_gap_median'], TARGETS['partial_gap'])}")
    print(f"  word error rate             {summary['wer_stream']:.3f} streamed vs "
          f"{summary['wer_direct']:.3f} faster-whisper directly (beam 5), over {n_words} words")
    print(f"  compute floor               {summary['direct_compute_median']:.3f} s faster-whisper "
          f"per utterance; + {VAD_END_SILENCE_S} s VAD silence = {summary['floor_median']:.3f} s")
    print(f"  one final per utterance     {summary['utterances_with_one_final']}/{len(rows)}")
    print(f"  processes left after stop   {orphans}")
    if args.json:
        print(json.dumps({"summary": {**summary, "orphans": orphans}, "utterances": rows}, indent=2))
    return 1 if orphans else 0


if __name__ == "__main__":
    sys.exit(main())
