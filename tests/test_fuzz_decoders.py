"""The decoders and the stream's frame handling fuzzed with hypothesis, in
this process, no service (issue 10: "a fuzz suite in the tests").

Whatever bytes come in, each function either returns valid audio (1-D
float32, finite, in [-1, 1] where it comes from 16-bit samples) or raises
our BadInput / ServiceError carrying a sentence; any other exception is a
bug (in the worker it would be a crash answer, not a sentence). Random
bytes alone rarely get past a container's first check, so the file
decoder is also fed real small files of every allowed container, cut
short and overwritten at random places: that is what reaches FFmpeg's
demuxers and decoders.

Examples are bounded and derandomized and each has a deadline, so a hang
or a slow path shows up as a failure and the file runs in well under a
minute. The real engine (tiny.en + Silero) is loaded only for the stream.
"""
from __future__ import annotations

import base64
import io
import itertools
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import protocol
from service.errors import BadInput, ServiceError
from service.fronts.node_api import decode_base64
from service.pcm import MAX_RATE, MIN_RATE, SAMPLE_RATE, ChunkResampler, pcm16_to_float
from service.worker import decoding, streaming, utterance
from service.worker.decoding import LongAudio
from tests.support import speech
from tests.support.encodings import ENCODINGS as COMPRESSED

# The per-test runtime directory (tests/conftest.py) is function-scoped by
# design; these tests use no per-example state of it.
FUZZ = settings(max_examples=100, derandomize=True, database=None,
                deadline=timedelta(seconds=10),
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
# Each case may run Whisper on noise: fewer of them.
FUZZ_STREAM = settings(FUZZ, max_examples=20, deadline=timedelta(seconds=30))

# What the first bytes of each allowed container look like, so random tails
# reach the demuxer named for them (decoding.container_of).
MAGICS = [b"RIFF\x24\x00\x00\x00WAVEfmt ", b"RF64\xff\xff\xff\xffWAVE", b"fLaC", b"OggS\x00\x02",
          b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x18ftypM4A ", b"\x00\x00\x00\x08moov",
          b"FORM\x00\x00\x00\x00AIFF", b"caff\x00\x01", b".snd", b"#!AMR\n", b"ADIF",
          b"\xff\xf1", b"\xff\xfb", b"ID3\x04\x00\x00\x00\x00\x00\x10"]
ENCODINGS = {"wav": ("wav", "pcm_s16le", 16000), **COMPRESSED}


def a_sentence(exc: ServiceError) -> None:
    message = exc.message
    assert isinstance(message, str) and len(message) > 20, message
    assert message[0].isupper() or message[0] in "'\"", message
    assert message.rstrip().endswith("."), message


def valid_audio(audio, from_int16: bool = True) -> None:
    if isinstance(audio, LongAudio):   # longer than one window: counted, not held
        assert audio.samples > decoding.WINDOW_SECONDS * SAMPLE_RATE
        return
    assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
    assert np.isfinite(audio).all()
    if from_int16 and audio.size:
        assert -1.0 <= audio.min() and audio.max() < 1.0


def refused_or_audio(fn, *args, from_int16: bool = True, **kwargs):
    try:
        audio = fn(*args, **kwargs)
    except ServiceError as exc:
        a_sentence(exc)
        return None
    valid_audio(audio, from_int16)
    return audio


def encode(fmt: str, codec: str, rate: int, seconds: float = 0.6, channels: int = 1) -> bytes:
    """A short tone-and-noise clip in that container, made with PyAV."""
    import av

    n = int(seconds * rate)
    t = np.arange(n) / rate
    rng = np.random.default_rng(len(fmt))
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    buf = io.BytesIO()
    layout = "mono" if channels == 1 else "stereo"
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame_size = stream.codec_context.frame_size or 1024
        data = np.repeat(pcm[None, :], channels, axis=0).T.reshape(1, -1)
        for i in range(0, n, frame_size):
            chunk = np.ascontiguousarray(data[:, i * channels:(i + frame_size) * channels])
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    files = [encode(*spec) for spec in ENCODINGS.values()]
    files.append(encode("wav", "pcm_s16le", 44100, channels=2))
    return files


@st.composite
def damaged(draw, seeds: list[bytes]) -> bytes:
    """A real file cut short and/or overwritten at a few places."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        data[at:at + len(patch)] = patch
    if draw(st.booleans()):
        data = data[:draw(st.integers(1, len(data)))]
    return bytes(data)


# ------------------------------------------------------------------ file decoder
def test_the_seeds_decode(seeds):
    """The damaged cases start from files that do decode (else they test nothing)."""
    for data in seeds:
        audio = decoding.decode(data)
        valid_audio(audio)
        assert audio.size > 0.3 * SAMPLE_RATE


@FUZZ
@given(data=st.binary(max_size=4096))
def test_decode_arbitrary_bytes(data):
    refused_or_audio(decoding.decode, data)


@FUZZ
@given(head=st.sampled_from(MAGICS), tail=st.binary(max_size=4096))
def test_decode_bytes_that_begin_like_audio(head, tail):
    refused_or_audio(decoding.decode, head + tail)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_decode_damaged_real_files(seeds, data):
    refused_or_audio(decoding.decode, data.draw(damaged(seeds)))


# ------------------------------------------------------------------ raw PCM
@FUZZ
@given(pcm=st.binary(max_size=8192),
       rate=st.one_of(st.sampled_from([8000, 16000, 22050, 44100, 48000]),
                      st.integers(-10**6, 10**6)))
def test_pcm16_to_float(pcm, rate):
    audio = refused_or_audio(pcm16_to_float, pcm, rate)
    if audio is not None:
        assert abs(audio.size - len(pcm) / 2 * SAMPLE_RATE / rate) <= 1


@FUZZ
@given(rate=st.floats(MIN_RATE, MAX_RATE),
       chunks=st.lists(st.integers(0, 3000), max_size=12), seed=st.integers(0, 2**16))
def test_chunk_resampler(rate, chunks, seed):
    """Any rate, any block sizes: float32 within the input's range, and as many
    samples as a whole-clip resampling (give or take the carried edge)."""
    rng = np.random.default_rng(seed)
    blocks = [rng.uniform(-1, 1, n).astype(np.float32) for n in chunks]
    r = ChunkResampler(rate)
    outs = [r(b) for b in blocks]
    for out in outs:
        assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
        if out.size:
            assert -1.0 <= out.min() and out.max() <= 1.0
    total_in = sum(chunks)
    total_out = sum(o.size for o in outs)
    assert abs(total_out - total_in * SAMPLE_RATE / rate) <= 2 + SAMPLE_RATE / rate


# ------------------------------------------------------------------ the node's /utterance
@FUZZ
@given(data=st.binary(max_size=2048))
def test_opus_packets_arbitrary_bytes(data):
    refused_or_audio(utterance.decode_opus_packets, data, from_int16=False)


@FUZZ
@given(sizes=st.lists(st.integers(1, 400), min_size=1, max_size=8), seed=st.integers(0, 2**16))
def test_opus_packets_well_framed_garbage(sizes, seed):
    """Correct 2-byte framing around random packets: libopus itself sees them."""
    rng = np.random.default_rng(seed)
    data = b"".join(n.to_bytes(2, "little") + rng.bytes(n) for n in sizes)
    refused_or_audio(utterance.decode_opus_packets, data, from_int16=False)


FILE_DECODER = SimpleNamespace(decode_file=decoding.decode)   # Engine.decode_file is this


@FUZZ
@given(data=st.binary(max_size=4096),
       fmt=st.one_of(st.sampled_from(protocol.PCM_FORMATS + protocol.FILE_FORMATS), st.text()),
       rate=st.one_of(st.just(16000), st.integers(-10**5, 10**6)))
def test_utterance_decode(data, fmt, rate):
    refused_or_audio(utterance.decode, FILE_DECODER, data, fmt, rate, from_int16=False)


@FUZZ
@given(text=st.one_of(st.text(max_size=400),
                      st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode())),
       max_bytes=st.integers(0, 400))
def test_decode_base64(text, max_bytes):
    try:
        data = decode_base64(text, max_bytes)
    except ServiceError as exc:
        a_sentence(exc)
        assert exc.status in (400, 413)
        return
    assert isinstance(data, bytes) and len(data) <= max_bytes


@FUZZ
@given(data=st.binary(max_size=300), breaks=st.lists(st.integers(0, 400), max_size=5))
def test_decode_base64_round_trip(data, breaks):
    """Line breaks some encoders insert are harmless."""
    text = base64.b64encode(data).decode()
    for at in sorted(breaks, reverse=True):
        text = text[:at] + "\n" + text[at:]
    # The limit is judged on the text's length before decoding (padding
    # included), so it may over-count by up to two bytes.
    assert decode_base64(text, len(data) + 2) == data


# ------------------------------------------------------------------ live streams
@pytest.fixture(scope="module")
def engine():
    from service.config import ModelConfig
    from service.worker.engine import Engine

    return Engine(ModelConfig(model="tiny.en", device="cpu"))


_sids = itertools.count()


@pytest.fixture(scope="module")
def fox_pcm(speech_files) -> bytes:
    return speech.read_wav(speech_files["fox"])


noise = st.binary(max_size=12000)
silence = st.integers(0, 16000).map(lambda n: bytes(n * 2))


@st.composite
def frames(draw, fox: bytes) -> list[bytes]:
    """Frames of noise and silence; or a whole spoken sentence cut at random
    places (odd ones too) with such frames slipped in, which makes the VAD
    open an utterance and Whisper decode it into partials and a final."""
    junk = st.one_of(st.just([]), st.just([]), st.lists(st.one_of(noise, silence), max_size=2))
    if not draw(st.booleans()):
        return draw(st.lists(st.one_of(noise, silence), max_size=10))
    cuts = sorted(draw(st.lists(st.integers(1, len(fox) - 1), max_size=12, unique=True)))
    out: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(fox)]):
        out += [fox[a:b], *draw(junk)]
    return out


@FUZZ_STREAM
@given(rate=st.one_of(st.just(16000), st.sampled_from([8000, 44100, 48000]),
                      st.integers(0, 400000)),
       data=st.data())
def test_stream_frames(engine, fox_pcm, rate, data):
    """Arbitrary frames on a live stream: events of the protocol or BadInput
    (an odd frame), never another exception; the stream then flushes."""
    chunks = data.draw(frames(fox_pcm))
    sid = f"fuzz-{next(_sids)}"
    try:
        streaming.handle(engine, protocol.stream_open(sid, rate, "en"))
    except ServiceError as exc:
        a_sentence(exc)
        return
    try:
        for pcm in chunks:
            try:
                reply = streaming.handle(engine, protocol.stream_feed(sid, pcm))
            except BadInput as exc:
                a_sentence(exc)
                assert len(pcm) % 2, (len(pcm), exc.message)
                continue
            check_events(reply["events"])
        check_events(streaming.handle(engine, protocol.stream_flush(sid))["events"])
    finally:
        streaming.handle(engine, protocol.stream_close(sid))


def check_events(events) -> None:
    assert isinstance(events, list)
    for e in events:
        assert e["type"] in ("partial", "final"), e
        assert isinstance(e["text"], str), e
        assert 0 <= e["start"] <= e["end"], e


def test_pcm16_to_float_keeps_full_scale_within_16_bit_range():
    """The case hypothesis 6.170.17 found: a filter's overshoot on a short,
    near-full-scale clip must not leave the range 16-bit PCM came from."""
    pcm = np.array([32767, -32768, 32767, 32767], dtype="<i2").tobytes()
    for rate in (4000, 22050, 44100, 48000, 96000):
        audio = pcm16_to_float(pcm, rate)
        assert audio.size == 0 or (-1.0 <= audio.min() and audio.max() < 1.0), (rate, audio)
