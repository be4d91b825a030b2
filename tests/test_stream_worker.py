"""service/worker/streaming.py in this process, on the real tiny.en and Silero:
the parts the WebSocket tests cannot steer (tuning, the cut inside speech)."""
from __future__ import annotations

import wave

import numpy as np
import pytest

from service import protocol
from service.config import ModelConfig
from service.worker import streaming, vad
from tests.support import speech


@pytest.fixture(scope="module")
def engine():
    from service.worker.engine import Engine

    return Engine(ModelConfig(model="tiny.en", device="cpu"))


def pcm_of(path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


def run_stream(engine, pcm: bytes, chunk_s=0.25, **tuning) -> list[dict]:
    sid = f"t{id(pcm)}"
    streaming.handle(engine, protocol.stream_open(sid, 16000, "en", tuning))
    events = []
    step = int(chunk_s * 16000) * 2
    for i in range(0, len(pcm), step):
        events += streaming.handle(engine, protocol.stream_feed(sid, pcm[i:i + step]))["events"]
    events += streaming.handle(engine, protocol.stream_flush(sid))["events"]
    return events


def test_vad_streamed_window_by_window_matches_faster_whisper(engine, speech_files):
    from faster_whisper.audio import decode_audio

    audio = decode_audio(str(speech_files["fox"]))
    audio = audio[: audio.size // vad.WINDOW * vad.WINDOW]
    whole = np.ravel(engine.vad(audio.copy()))
    silero = vad.StreamingVad(engine.vad.session)
    step = np.array([silero(audio[i:i + vad.WINDOW]) for i in range(0, audio.size, vad.WINDOW)])
    # faster-whisper's batch zeroes the last 64 samples of the last window
    # (its context view aliases the audio), so that window alone differs.
    assert np.allclose(whole[:-1], step[:-1], atol=1e-5)


def test_resampler_keeps_length_and_continuity():
    rate = 44100
    t = np.arange(rate * 2) / rate
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    r = streaming.Resampler(rate)
    parts = [r(x[i:i + 1234]) for i in range(0, x.size, 1234)]
    y = np.concatenate(parts)
    assert abs(y.size - 32000) <= 2
    # a real anti-aliasing filter delays the signal by r.delay and needs that
    # long again to settle from the silence before the first block
    expect = np.sin(2 * np.pi * 440 * (np.arange(y.size) / 16000 - r.delay))
    settled = int(2 * r.delay * 16000) + 1
    assert np.max(np.abs(y - expect)[settled:]) < 0.02  # no clicks at chunk edges


def test_cut_inside_continuous_speech_keeps_every_word(engine, tmp_path):
    # Pause cuts disabled and a 6 s bound: the cut must fall between words.
    text = ("we packed the car with bags and boxes and drove north through the rain "
            "until we reached the small town by the sea where our friends were waiting")
    wav = speech.speak(tmp_path / "cont.wav", text, "en-us", 170)
    events = run_stream(engine, pcm_of(wav) + b"\0\0" * 8000,
                        max_utterance_s=6.0, min_cut_s=2.0, cut_pause_windows=10_000)
    fin = [e for e in events if e["type"] == "final"]
    assert len(fin) >= 2, events
    for a, b in zip(fin, fin[1:]):
        assert b["start"] == pytest.approx(a["end"], abs=1e-3)
    for f in fin:
        assert f["end"] - f["start"] <= 6.5
    joined = " ".join(f["text"] for f in fin)
    assert speech.wer(text, joined) <= 0.2, joined


def test_a_click_is_not_an_utterance(engine):
    click = np.zeros(16000 * 2, np.int16)
    click[8000:8200] = 20000
    events = run_stream(engine, click.tobytes())
    assert events == []


def test_unknown_stream_says_start_a_new_one(engine):
    from service.errors import ServiceError

    with pytest.raises(ServiceError) as err:
        streaming.handle(engine, protocol.stream_feed("nope", b""))
    assert "new stream" in err.value.message


def test_overlap_after_a_cut_is_dropped_once():
    assert streaming.drop_overlap("until we reached the", "the small town") == "small town"
    assert streaming.drop_overlap("we reached the", "The, small town") == "small town"
    assert streaming.drop_overlap("we reached the", "small town") == "small town"
    assert streaming.drop_overlap("", "the small town") == "the small town"
