"""Speech with a known text, made with espeak-ng + sox (shared/TESTING.md)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

SENTENCES = {
    "fox": ("en-us", 150, "The quick brown fox jumps over the lazy dog."),
    "apples": ("en-gb", 150, "I like to eat apples and bananas in the morning."),
    "weather": ("en+f3", 140, "The weather today is sunny with a light breeze from the west."),
    "train": ("en-us", 170, "Please remember to buy milk, bread and coffee on the way home."),
}


def need_tools() -> None:
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: run the README's test command, "
                           "which installs them (apt-get install espeak-ng sox).")


def make_speech(out_dir: Path, key: str) -> Path:
    voice, speed, text = SENTENCES[key]
    return speak(out_dir / f"{key}.wav", text, voice, speed)


def speak(path: Path, text: str, voice: str = "en-us", speed: int = 150) -> Path:
    need_tools()
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return path


def concat(path: Path, parts: list[Path], gap_s: float = 0.5, repeat: int = 1) -> Path:
    """Join wavs with silence between them (sox)."""
    need_tools()
    silence = path.with_suffix(".gap.wav")
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(silence),
                    "trim", "0", str(gap_s)], check=True)
    seq = []
    for _ in range(repeat):
        for p in parts:
            seq += [str(p), str(silence)]
    subprocess.run(["sox", *seq, str(path)], check=True)
    silence.unlink()
    return path


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower().replace("-", " "))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate by edit distance over words."""
    ref, hyp = words(reference), words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)] / max(1, len(ref))


def read_wav(path, rate: int = 16000) -> bytes:
    """The 16-bit samples of a mono WAV made by speak()/concat() (or resampled
    from one with sox), checked to be at `rate` Hz."""
    import wave

    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (rate, 1, 2), path
        return w.readframes(w.getnframes())
