"""service/pcm.py's resampling to 16 kHz: a real low-pass (nothing above
8 kHz folds back), the stream filter equal to libsoxr's whole-clip result
where speech is, seamless across any block sizes, a fixed delay, and as many
samples out as the input is worth at every call."""
from __future__ import annotations

import numpy as np
import pytest
import soxr

from service.pcm import SAMPLE_RATE, ChunkResampler, pcm16_to_float, resample


def tones(rate: float, freqs, seconds: float = 1.0, amp: float = 0.15) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return sum(amp * np.sin(2 * np.pi * f * t + i) for i, f in enumerate(freqs)).astype(np.float32)


def in_blocks(r: ChunkResampler, x: np.ndarray, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out, i = [], 0
    while i < x.size:
        n = int(rng.integers(0, 2000))
        out.append(r(x[i:i + n]))
        i += n
    return np.concatenate(out)


def peak_dbfs(y: np.ndarray) -> float:
    w = np.hanning(y.size)
    return 20 * np.log10(np.abs(np.fft.rfft(y * w)).max() / (w.sum() / 2) + 1e-12)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_the_stream_filter_equals_soxr_where_speech_is(rate):
    """Below 6 kHz (3.5 kHz for an 8 kHz input) the streamed output, in
    random blocks, is libsoxr's whole-clip output delayed by `delay`."""
    top = min(rate, SAMPLE_RATE) * 0.45
    x = tones(rate, [f for f in (150, 440, 1234, 2500, 3300, 5900) if f < top], seconds=2)
    r = ChunkResampler(rate)
    y = in_blocks(r, x)
    lag = round(r.delay * rate)
    assert lag == pytest.approx(r.delay * rate)        # a whole number of input samples
    ref = soxr.resample(np.concatenate([np.zeros(lag, np.float32), x]), rate, SAMPLE_RATE, "VHQ")
    n = min(y.size, ref.size)
    inner = slice(SAMPLE_RATE // 10, n - SAMPLE_RATE // 10)   # both filters' edges left out
    assert np.max(np.abs(y[inner] - ref[inner])) < 2e-3


@pytest.mark.parametrize("rate", [44100, 48000, 96000])
@pytest.mark.parametrize("freq", [8600, 9000, 12000, 15000, 20000])
def test_nothing_above_8k_folds_back(rate, freq):
    """The old linear interpolation let a 12 kHz tone at 48 kHz through as a
    4 kHz one at full strength; now it is below the 16-bit floor."""
    if freq >= rate / 2:
        pytest.skip("above the input's own Nyquist frequency")
    y = in_blocks(ChunkResampler(rate), tones(rate, [freq], amp=0.5))
    assert peak_dbfs(y[SAMPLE_RATE // 10:]) - 20 * np.log10(0.5) < -80


def test_the_passband_is_flat_to_7_khz():
    for f in (100, 1000, 4000, 6500, 7000):
        y = in_blocks(ChunkResampler(48000), tones(48000, [f], amp=0.5))
        assert abs(peak_dbfs(y[SAMPLE_RATE // 10:]) - 20 * np.log10(0.5)) < 0.2, f


@pytest.mark.parametrize("rate", [4000, 8000, 11025, 22050, 44100, 48000, 192000, 16001.5])
def test_every_call_returns_what_the_input_is_worth(rate):
    """Callers count samples: after any block, the output so far is the
    input so far times 16000/rate, rounded up, never held back."""
    r = ChunkResampler(rate)
    rng = np.random.default_rng(1)
    seen = made = 0
    for _ in range(200):
        n = int(rng.integers(0, 3000))
        made += r(rng.uniform(-1, 1, n).astype(np.float32)).size
        seen += n
        assert abs(made - seen * SAMPLE_RATE / rate) <= 1, (seen, made)


@pytest.mark.parametrize("rate", [8000, 44100, 48000])
def test_the_delay_is_fixed_and_small(rate):
    r = ChunkResampler(rate)
    assert 0 < r.delay < 0.005
    x = np.zeros(rate, np.float32)
    x[rate // 2] = 1.0                                  # a click half a second in
    y = in_blocks(r, x, seed=3)
    assert np.argmax(np.abs(y)) == pytest.approx((0.5 + r.delay) * SAMPLE_RATE, abs=1)


def test_several_channels_are_averaged_first():
    x = tones(48000, [1000])
    r_stereo, r_mono = ChunkResampler(48000), ChunkResampler(48000)
    both = r_stereo(np.stack([x, 0.5 * x], axis=1))
    assert np.allclose(both, r_mono(0.75 * x), atol=1e-6)
    assert np.max(np.abs(ChunkResampler(48000)(np.stack([x, -x], axis=1)))) < 1e-6


def test_16_khz_passes_through_and_full_scale_stays_in_range():
    x = tones(SAMPLE_RATE, [440])
    assert np.array_equal(ChunkResampler(SAMPLE_RATE)(x), x)
    square = np.sign(tones(48000, [997], amp=1.0)).astype(np.float32)   # the filter rings on it
    y = ChunkResampler(48000)(square)
    assert y.dtype == np.float32 and -1.0 <= y.min() and y.max() <= 1.0


def test_whole_clips_use_soxr():
    x = tones(44100, [440, 12000], seconds=1, amp=0.4)
    y = resample(x, 44100)
    assert y.dtype == np.float32 and abs(y.size - 16000) <= 1
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    alias = 4000 * y.size // SAMPLE_RATE          # where 12 kHz would fold to
    assert spectrum[alias - 20: alias + 20].max() < 1e-3 * spectrum.max()
    pcm = (x * 32767).astype("<i2").tobytes()
    assert np.allclose(pcm16_to_float(pcm, 44100), resample(x, 44100), atol=1e-3)
