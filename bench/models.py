#!/usr/bin/env python3
"""The offline models side by side: load time, memory, speed and accuracy of
the bundled tiny.en (English-only) and of Whisper base (multilingual, joined
once into the model cache from its two packages) on the same speech.

Each run of each model is a fresh process (this script with --one), so the
RSS it reports is that model's alone. In it the worker's own Engine
(service/worker/engine.py) loads the model and transcribes, so the settings
are the service's: device auto (CPU here), int8, one thread per core (at most
8), beam 5, Silero VAD filter on. Per run it measures:

  load       WhisperModel construction inside Engine (imports and the Silero
             VAD, which every model shares, are done before the clock starts)
  RSS        before the load, after it, after the English clip (the same work
             for both models: the figure to compare) and after every clip (a
             model given speech it cannot understand retries at higher
             temperatures, which costs time and memory)
  RTF        compute seconds / audio seconds, per clip
  WER        word error rate against the known text (tests/support/speech.wer,
             accents folded for Spanish), per clip

Speech: 8 English sentences in 4 espeak-ng voices, one clip; 8 Spanish
sentences in 4 espeak-ng Spanish voices, one clip. tiny.en gets the English
clip and, for contrast, the Spanish one (it can only answer in English); base
gets English (language auto-detected), Spanish forced to "es" and Spanish
auto-detected. The runs alternate between the models so that noise from other
work on the machine hits both alike. Timings are medians over the runs.

    python bench/models.py [--runs 3] [--json]

About 3 minutes here (2 cores). It joins base into the model cache when it
is not there yet (as the app's first use of base does; the join time is
printed). Exit status 1 when a model failed or a process of the run survived.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import psutil

from _common import scratch
from live_latency import UTTERANCES
from tests.support import procs, speech

MODELS = ("tiny.en", "base")
# The English sentences of bench/live_latency.py that hold no number (Whisper
# writes "ten" as "10", which a word-level WER would count as an error).
NUMBERS = {"ten", "nine", "four", "eight"}
ENGLISH = [u for u in UTTERANCES if not NUMBERS & set(speech.words(u[2]))][:8]
SPANISH = [
    ("es", 150, "El perro corre por el parque todas las mañanas."),
    ("es-419", 150, "Mi hermana trabaja en un hospital de la ciudad."),
    ("es+f3", 140, "Hoy hace buen tiempo y el cielo está despejado."),
    ("es+m3", 150, "Necesito comprar pan, leche y huevos para la cena."),
    ("es", 160, "Los niños juegan al fútbol en la plaza del pueblo."),
    ("es-419", 140, "¿Dónde está la estación de tren más cercana?"),
    ("es+f3", 150, "Me gusta leer un libro antes de dormir."),
    ("es+m3", 140, "La reunión empieza después del almuerzo."),
]
CLIPS = {"en": ENGLISH, "es": SPANISH}
CHINESE = ("Chinese: not measured here (no recorded Mandarin speech with a transcript is "
           "available offline; espeak's Mandarin is not intelligible to Whisper base)")
CHILD_TIMEOUT_S = 300


def cases(multilingual: bool) -> list[tuple[str, str, dict]]:
    """(clip, how the language is chosen, transcription options) for a model."""
    if multilingual:
        return [("en", "auto", {}), ("es", "forced es", {"language": "es"}), ("es", "auto", {})]
    # An English-only model cannot be asked for "es" (Engine.check_request
    # refuses it); auto is what it does with Spanish speech it is given.
    return [("en", "auto", {}), ("es", "auto (English-only)", {})]


def fold(text: str) -> str:
    """Accents off (está -> esta): speech.words() keeps only a-z, and Whisper
    may or may not write an accent espeak spoke the same either way."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def word_error_rate(clip: str, hypothesis: str) -> float:
    reference = " ".join(text for _v, _s, text in CLIPS[clip])
    return speech.wer(fold(reference), fold(hypothesis))


def make_clips(d: Path) -> dict[str, Path]:
    out = {}
    for lang, sentences in CLIPS.items():
        parts = [speech.speak(d / f"{lang}-{i}.wav", text, voice, speed)
                 for i, (voice, speed, text) in enumerate(sentences)]
        out[lang] = speech.concat(d / f"{lang}.wav", parts, gap_s=0.6)
        for p in parts:
            p.unlink()
    return out


# ------------------------------------------------------------------ the child
def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def one(model: str, clip_dir: Path) -> dict:
    """Load `model` the way the worker does, transcribe every clip; the figures."""
    import ctranslate2  # noqa: F401  (imports before the clock: they are not the model's)
    import faster_whisper  # noqa: F401
    from faster_whisper.vad import get_vad_model

    from service.config import ModelConfig
    from service.worker.engine import Engine

    get_vad_model()   # cached: Engine reuses it, so the load below is the model's alone
    rss_before = rss_mb()
    t0 = time.perf_counter()
    engine = Engine(ModelConfig(model=model))
    load_s = time.perf_counter() - t0
    rss_load = rss_mb()
    results = []
    for clip, how, options in cases(engine.info.multilingual):
        audio = Engine.decode_file((clip_dir / f"{clip}.wav").read_bytes())
        out = engine.transcribe(audio, options)
        results.append({"clip": clip, "how": how, "text": out["text"],
                        "language": out["language"],
                        "language_probability": out["language_probability"],
                        "compute_s": out["compute_seconds"], "audio_s": out["duration"],
                        "rss": rss_mb()})
    return {"model": model, "path": engine.info.model_path, "device": engine.info.device,
            "compute_type": engine.info.compute_type, "multilingual": engine.info.multilingual,
            "load_s": load_s, "rss_before": rss_before, "rss_load": rss_load,
            "rss_after": rss_mb(), "cases": results}


# ------------------------------------------------------------------ the parent
def run_child(model: str, clip_dir: Path, started: set) -> dict | str:
    """One fresh process for one run of one model: its figures, or why not."""
    p = subprocess.Popen([sys.executable, __file__, "--one", model, "--clips", str(clip_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.add((p.pid, psutil.Process(p.pid).create_time()))
    try:
        out, err = p.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return f"{model}: no answer within {CHILD_TIMEOUT_S} s"
    if p.returncode != 0:
        last = (err.strip().splitlines() or ["(nothing on stderr)"])[-1]
        return f"{model}: its process exited {p.returncode}: {last}"
    return json.loads(out.strip().splitlines()[-1])


def prepare_base() -> tuple[bool, str]:
    """base joined into the model cache now if it is not yet (timed), before
    any child loads it: (usable, what happened)."""
    from service.errors import LoadFailed
    from service.models import catalog, offline
    from service.models.cache import model_cache_dir

    was_joined = offline.base_is_joined(model_cache_dir() / "base")
    t0 = time.perf_counter()
    try:
        folder = catalog.resolve("base")
    except LoadFailed as exc:
        return False, f"base: not measured: {exc}"
    took = time.perf_counter() - t0
    return True, (f"base: {folder} (already joined)" if was_joined
                  else f"base: joined from its two packages into {folder} now, in {took:.1f} s")


def end_survivors(ids: set[tuple[int, float]]) -> None:
    """Kill what is still running of ours (counted as a failure all the same)."""
    for pid, _created in ids:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass


def med(values) -> float:
    return statistics.median(values)


def spread(values, fmt: str) -> str:
    return f"{format(med(values), fmt)} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def report(runs: dict[str, list[dict]], clips: dict[str, Path]) -> dict:
    """Print the tables; the medians as a dict (for --json and the comparison)."""
    from faster_whisper.audio import decode_audio

    seconds = {k: len(decode_audio(str(p))) / 16000 for k, p in clips.items()}
    words = {k: len(speech.words(fold(" ".join(t for _v, _s, t in v)))) for k, v in CLIPS.items()}
    first = next(iter(runs.values()))[0]
    n = min(len(v) for v in runs.values())
    print(f"speech: English {len(ENGLISH)} sentences, {len({v for v, _s, _t in ENGLISH})} espeak "
          f"voices, {seconds['en']:.1f} s, {words['en']} words; Spanish {len(SPANISH)} sentences, "
          f"{len({v for v, _s, _t in SPANISH})} voices, {seconds['es']:.1f} s, {words['es']} words")
    print(f"settings: {first['device']} {first['compute_type']}, {psutil.cpu_count()} cores, "
          f"beam 5, Silero VAD filter on (service/worker/engine.py); {n} runs per model, "
          f"each a fresh process; medians (min-max); load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'model':8s} {'languages':13s} {'load s':>16s} {'RSS before':>10s} "
          f"{'RSS loaded':>10s} {'after en':>10s} {'after all':>10s}")
    figures: dict = {}
    for model, rs in runs.items():
        f = figures[model] = {"load_s": med([r["load_s"] for r in rs]),
                              "rss_before": med([r["rss_before"] for r in rs]),
                              "rss_load": med([r["rss_load"] for r in rs]),
                              "rss_en": med([r["cases"][0]["rss"] for r in rs]),
                              "rss_after": med([r["rss_after"] for r in rs]), "cases": {}}
        langs = "multilingual" if rs[0]["multilingual"] else "English-only"
        print(f"{model:8s} {langs:13s} {spread([r['load_s'] for r in rs], '.2f'):>16s} "
              f"{f['rss_before']:7.0f} MB {f['rss_load']:7.0f} MB {f['rss_en']:7.0f} MB "
              f"{f['rss_after']:7.0f} MB")
    print(f"\n{'model':8s} {'speech':7s} {'language':20s} {'RTF':>17s} {'WER':>5s} "
          f"{'detected':>11s}  text (first run)")
    for model, rs in runs.items():
        for i, case in enumerate(rs[0]["cases"]):
            per_run = [r["cases"][i] for r in rs]
            rtf = [c["compute_s"] / c["audio_s"] for c in per_run]
            wer = med([word_error_rate(c["clip"], c["text"]) for c in per_run])
            lang = f"{case['language']} {case['language_probability']:.2f}"
            label = f"{case['clip']} {case['how']}"
            figures[model]["cases"][label] = {"rtf": med(rtf), "wer": wer,
                                              "detected": case["language"]}
            print(f"{model:8s} {case['clip']:7s} {case['how']:20s} {spread(rtf, '.3f'):>17s} "
                  f"{wer:5.2f} {lang:>11s}  {case['text'][:60].rstrip() or '(no text)'}")
    print(f"\n{CHINESE}")
    return figures


def comparison(f: dict) -> str:
    b, t = f["base"], f["tiny.en"]
    be, te = b["cases"]["en auto"], t["cases"]["en auto"]
    return (f"base vs tiny.en: load {b['load_s']:.2f} vs {t['load_s']:.2f} s "
            f"(x{b['load_s'] / t['load_s']:.1f}), RSS after English {b['rss_en']:.0f} vs "
            f"{t['rss_en']:.0f} MB ({b['rss_en'] - t['rss_en']:+.0f}), English RTF "
            f"{be['rtf']:.3f} vs {te['rtf']:.3f} (x{be['rtf'] / te['rtf']:.1f}), English WER "
            f"{be['wer']:.2f} vs {te['wer']:.2f}; Spanish WER base {b['cases']['es forced es']['wer']:.2f} "
            f"forced / {b['cases']['es auto']['wer']:.2f} auto, tiny.en "
            f"{t['cases']['es auto (English-only)']['wer']:.2f} (English-only)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the medians as JSON too")
    ap.add_argument("--one", metavar="MODEL", help=argparse.SUPPRESS)   # the child's part
    ap.add_argument("--clips", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.clips)))
        return 0
    t_start = time.monotonic()
    d = scratch()
    clips = make_clips(d)
    base_ok, how = prepare_base()
    print(how)
    failures = [] if base_ok else [how]
    models = [m for m in MODELS if base_ok or m != "base"]
    runs: dict[str, list[dict]] = {m: [] for m in models}
    started: set = set()
    for _ in range(args.runs):
        for model in models:   # alternating, so noise hits both alike
            got = run_child(model, d, started)
            if isinstance(got, str):
                failures.append(got)
            else:
                runs[model].append(got)
    left = procs.alive(started) | procs.alive(procs.identities(psutil.Process().children(True)))
    end_survivors(left)
    ok = not failures and not left
    runs = {m: rs for m, rs in runs.items() if rs}
    if runs:
        figures = report(runs, clips)
        if len(runs) == len(MODELS):
            print(comparison(figures))
        if args.json:
            print(json.dumps(figures, indent=1))
    shutil.rmtree(d, ignore_errors=True)
    for why in failures:
        print(f"FAILED {why}")
    print(f"processes left after the run: {len(left)}; {time.monotonic() - t_start:.0f} s")
    print(f"models: {'PASS' if ok else 'MISS'} (every offline model loaded and transcribed "
          "every clip in a process of its own, and none survived)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
