"""Raw 16-bit PCM to the 16 kHz float32 samples Whisper and Silero expect.

SAMPLE_RATE is defined here once: every part of the service that counts
samples (the worker's VAD and decoding, the fronts) uses it.

Resampling needs a low-pass filter. Whisper's features stop at 8 kHz, but
that is the reason for the filter, not against it: a 44.1 or 48 kHz
microphone carries sound up to 22 or 24 kHz, and resampling to 16 kHz
without removing what lies above 8 kHz first folds it back into the band
Whisper listens to (a 12 kHz whistle lands on 4 kHz). Linear interpolation,
which this module used before, let such sound through at full strength from
48 kHz (it just keeps every third sample) and 2-6 dB down from 44.1 kHz; with
hiss above 8 kHz at -30 dBFS the microphone's word error rate was 0.20 where
the same audio as a file scored 0.02 (tests/test_mic_accuracy.py).

  resample        whole clips: python-soxr (libsoxr, "HQ"), zero-phase
  ChunkResampler  a stream that arrives in blocks (the tray's capture, the
                  worker's live streams at a client's sample_rate): a
                  Kaiser-windowed-sinc polyphase filter, causal, with a
                  fixed delay of about 2 ms

Why not soxr.ResampleStream for blocks: it holds audio back in internal
blocks, a varying 6-40 ms at 44.1 kHz (up to 115 ms at 8 kHz), measured
here. That is latency on every caption, and it breaks the rule the callers
count on, that each call returns as many samples as the input so far is
worth. The filter below needs no future samples (it is primed with silence),
so its output count equals the input's worth at every call, and its delay
is a constant `delay` seconds: the last 2 ms of a stream never come out,
which nobody needs to flush. docs/sources.md has the figures.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from service.errors import BadInput

SAMPLE_RATE = 16000        # what Whisper and Silero are trained on
MIN_RATE, MAX_RATE = 4000, 192000

# The stream filter: cutoff (-6 dB) at 94 % of the lower Nyquist frequency,
# 7.5 kHz going to 16 kHz. 32 zero crossings each side and a Kaiser window
# with beta 9: flat within 0.1 dB to 7 kHz, -43 dB at 8 kHz and below
# -100 dB from 8.2 kHz on; equal to libsoxr below 6 kHz to 1e-5
# (tests/test_pcm_resampler.py). ~15 ms of CPU per second of 48 kHz audio.
ROLLOFF = 0.94
ZERO_CROSSINGS = 32
KAISER_BETA = 9.0
MAX_PHASES = 1024          # more (a rate like 16001 Hz): kernels interpolated between 1024 phases
BLOCK = 4096               # outputs computed at once: bounds the temporary arrays


def check_rate(sample_rate: int) -> None:
    if not isinstance(sample_rate, int) or not MIN_RATE <= sample_rate <= MAX_RATE:
        raise BadInput(f"The sample rate {sample_rate!r} is not usable: send 16-bit mono PCM "
                       f"at a rate between {MIN_RATE} and {MAX_RATE} Hz (16000 is best).")


INT16_MAX_FLOAT = 32767 / 32768   # the largest sample 16-bit PCM holds, as float


def pcm16_to_float(pcm: bytes, sample_rate: int) -> np.ndarray:
    check_rate(sample_rate)
    if len(pcm) % 2:
        raise BadInput(f"The audio has an odd number of bytes ({len(pcm)}): 16-bit PCM needs "
                       "two bytes per sample. Send whole samples.")
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return resample(audio, sample_rate)


def resample(audio: np.ndarray, rate: float) -> np.ndarray:
    """A whole clip at `rate` Hz -> 16 kHz float32, with libsoxr's
    high-quality filter (imported here: the tray's capture never needs it)."""
    if rate == SAMPLE_RATE or audio.size == 0:
        return audio
    import soxr

    out = np.asarray(soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), rate,
                                   SAMPLE_RATE, quality="HQ"), dtype=np.float32)
    # The filter overshoots on full-scale edges; keep what 16-bit PCM can hold.
    return np.clip(out, -1.0, INT16_MAX_FLOAT, out=out)


def _filter_bank(p: int, q: int, rows: int) -> tuple[np.ndarray, int]:
    """Kernels for a step of p/q input samples per output sample, one row per
    phase k/rows (k = 0..rows-1, and k = rows when the phases are to be
    interpolated), taps at input offsets 0..2*half. Returns (bank, half)."""
    cutoff = 0.5 * ROLLOFF * min(1.0, q / p)       # cycles per input sample
    half = int(np.ceil(ZERO_CROSSINGS / (2 * cutoff)))
    # Row k serves output samples whose centre lies k/rows of an input sample
    # after an input sample; tap j is the input sample `half - j + k/rows` before it.
    d = half + np.arange(rows + (rows != q))[:, None] / rows - np.arange(2 * half + 1)[None, :]
    inside = np.sqrt(np.clip(1 - (d / half) ** 2, 0, None))     # 0 at and beyond +-half
    window = np.i0(KAISER_BETA * inside) / np.i0(KAISER_BETA)
    bank = 2 * cutoff * np.sinc(2 * cutoff * d) * window
    bank /= bank.sum(axis=1, keepdims=True)       # exactly unity gain at 0 Hz for every phase
    return bank.astype(np.float32), half


class ChunkResampler:
    """Resampling of a stream that arrives in blocks of any size, to 16 kHz.

    Each call returns every output sample the input so far allows (as many
    as a whole-clip resampling of it, give or take one), continuous across
    blocks. The signal comes out `delay` seconds late: the filter is causal,
    and the stream is taken as silent before its first sample. Blocks of
    shape (frames, channels) are mixed to mono first (the average). Used by
    the tray's capture and by the worker's live streams."""

    def __init__(self, rate: float):
        self.rate = rate
        self.delay = 0.0               # seconds the output lags the input
        if rate == SAMPLE_RATE:
            return
        # Exact for the rates devices and clients use (44100/16000 = 441/160,
        # 16001/16000); a float with a long binary tail is held to 2**20
        # phases (a few millionths off), which keeps n * p within int64.
        step = (Fraction(rate) / SAMPLE_RATE).limit_denominator(2 ** 20)
        self._p, self._q = step.numerator, step.denominator
        self._rows = min(self._q, MAX_PHASES)
        self._bank, self._half = _filter_bank(self._p, self._q, self._rows)
        self._taps = np.arange(2 * self._half + 1)
        self.delay = self._half / float(rate)
        # The stream is primed with silence, so the first outputs need no
        # samples from before the stream began.
        self._buf = np.zeros(2 * self._half, np.float32)
        self._buf_at = -2 * self._half         # input sample number of _buf[0]
        self._seen = 0                         # input samples received
        self._next = 0                         # next output sample number

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1) if x.shape[1] > 1 else x[:, 0]
        if self.rate == SAMPLE_RATE:
            return x
        p, q, half = self._p, self._q, self._half
        self._buf = np.concatenate([self._buf, x])
        self._seen += x.size
        # Output n is centred on input position n*p/q - half; its newest tap
        # is input sample floor(n*p/q), so it can be made once that arrived.
        end = (self._seen * q + p - 1) // p
        n = np.arange(self._next, end, dtype=np.int64)
        out = np.empty(n.size, np.float32)
        for s in range(0, n.size, BLOCK):
            nn = n[s:s + BLOCK]
            first = nn * p // q - 2 * half - self._buf_at     # index of tap 0 in _buf
            frames = self._buf[first[:, None] + self._taps]
            out[s:s + BLOCK] = np.einsum("ij,ij->i", frames, self._kernels(nn * p % q))
        self._next = end
        drop = end * p // q - 2 * half - self._buf_at       # before the next output's tap 0
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_at += drop
        # A filter overshoots on full-scale edges; callers need -1..1.
        return np.clip(out, -1.0, 1.0, out=out)

    def _kernels(self, phase: np.ndarray) -> np.ndarray:
        """The kernel of each output, its phase given as phase/q."""
        if self._rows == self._q:
            return self._bank[phase]
        pos = phase * (self._rows / self._q)
        k = pos.astype(np.int64)
        frac = (pos - k).astype(np.float32)[:, None]
        return self._bank[k] * (1 - frac) + self._bank[k + 1] * frac
