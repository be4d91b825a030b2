"""Raw 16-bit PCM to the 16 kHz float32 samples Whisper and Silero expect.

SAMPLE_RATE is defined here once: every part of the service that counts
samples (the worker's VAD and decoding, the fronts) uses it."""
from __future__ import annotations

import numpy as np

from service.errors import BadInput

SAMPLE_RATE = 16000        # what Whisper and Silero are trained on
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
    if rate == SAMPLE_RATE or audio.size == 0:
        return audio
    n_out = int(round(audio.size * SAMPLE_RATE / rate))
    x_old = np.arange(audio.size, dtype=np.float64) / rate
    x_new = np.arange(n_out, dtype=np.float64) / SAMPLE_RATE
    return np.interp(x_new, x_old, audio).astype(np.float32)


class ChunkResampler:
    """Linear resampling of a stream that arrives in blocks, carrying its phase
    across blocks so block edges do not click (`resample` is for whole clips).
    Used by the tray's capture and by the worker's live streams."""

    def __init__(self, rate: float):
        self.rate = rate
        self.step = float(rate) / SAMPLE_RATE  # input samples per output sample
        self.pos = 0.0                 # next output position, in input samples since `prev`
        self.prev = np.zeros(0, np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.rate == SAMPLE_RATE:
            return x
        buf = np.concatenate([self.prev, x])
        last = buf.size - 1
        if last < 1 or self.pos > last:
            self.prev = buf
            return np.zeros(0, np.float32)
        n = int(np.floor((last - self.pos) / self.step)) + 1
        out = np.interp(self.pos + self.step * np.arange(n), np.arange(buf.size), buf)
        self.pos += self.step * n
        keep = min(int(np.floor(self.pos)), last)  # samples before this are never needed again
        self.prev = buf[keep:]
        self.pos -= keep
        return out.astype(np.float32)
