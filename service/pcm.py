"""Raw 16-bit PCM to the 16 kHz float32 samples Whisper and Silero expect."""
from __future__ import annotations

import numpy as np

from service.errors import BadInput

TARGET_RATE = 16000
MIN_RATE, MAX_RATE = 4000, 192000


def check_rate(sample_rate: int) -> None:
    if not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise BadInput(f"The sample rate {sample_rate!r} is not usable: send 16-bit mono PCM "
                       f"at a rate between {MIN_RATE} and {MAX_RATE} Hz (16000 is best).")


def pcm16_to_float(pcm: bytes, sample_rate: int) -> np.ndarray:
    check_rate(sample_rate)
    if len(pcm) % 2:
        raise BadInput(f"The audio has an odd number of bytes ({len(pcm)}): 16-bit PCM needs "
                       "two bytes per sample. Send whole samples.")
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return resample(audio, sample_rate)


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """Linear interpolation: cheap, and good enough for speech recognition at
    the rates microphones use; anti-aliasing is skipped on purpose (Whisper's
    features stop at 8 kHz anyway)."""
    if rate == TARGET_RATE or audio.size == 0:
        return audio
    n_out = int(round(audio.size * TARGET_RATE / rate))
    x_old = np.arange(audio.size, dtype=np.float64) / rate
    x_new = np.arange(n_out, dtype=np.float64) / TARGET_RATE
    return np.interp(x_new, x_old, audio).astype(np.float32)
