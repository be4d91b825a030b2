"""WS /v1/stream?vad_threshold=&end_silence_ms=: a stream's own voice-activity
settings. A value out of range is refused with a sentence and a close reason;
a longer end-of-speech silence really keeps a sentence pair with a pause in
one final; the threshold reaches the stream's VoiceActivity."""
from __future__ import annotations

import pytest

from service import protocol
from tests.support import speech
from tests.support.speech import read_wav
from tests.test_stream_protocol import Recorder, finals, silence


@pytest.fixture(scope="module")
def svc(module_service_factory):
    return module_service_factory()


@pytest.mark.parametrize("query, words", [
    ({"vad_threshold": "abc"}, "VAD threshold 'abc'"),
    ({"vad_threshold": "0.99"}, "from 0.05 to 0.95"),
    ({"vad_threshold": "0"}, "from 0.05 to 0.95"),
    ({"vad_threshold": "nan"}, "VAD threshold 'nan'"),
    ({"end_silence_ms": "50"}, "from 100 to 3000"),
    ({"end_silence_ms": "5000"}, "from 100 to 3000"),
    ({"end_silence_ms": "soon"}, "end-of-speech silence 'soon'"),
])
def test_a_bad_option_is_refused_with_a_sentence(svc, query, words):
    rec = Recorder(svc.url, **query)
    ev = rec.recv()
    assert ev["type"] == "error" and words in ev["message"], ev
    assert rec.recv() is None
    name = next(iter(query))
    assert rec.close_code == 1008 and rec.close_reason == f"bad {name}", rec.close_reason


def two_sentences_with_a_pause(speech_files, pause_s: float) -> bytes:
    return (silence(0.5) + read_wav(speech_files["apples"]) + silence(pause_s)
            + read_wav(speech_files["train"]) + silence(2.0))


@pytest.mark.parametrize("end_silence_ms, n_finals", [(300, 2), (1500, 1)])
def test_the_end_of_speech_silence_decides_where_a_line_ends(svc, speech_files,
                                                             end_silence_ms, n_finals):
    rec = Recorder(svc.url, end_silence_ms=end_silence_ms)
    rec.send_pcm(two_sentences_with_a_pause(speech_files, 0.6), speed=4.0)
    fin = finals(rec.until_closed())
    assert len(fin) == n_finals, fin
    said = " ".join(f["text"] for f in fin)
    both = speech.SENTENCES["apples"][2] + " " + speech.SENTENCES["train"][2]
    assert speech.wer(both, said) <= 0.3, fin
    if n_finals == 1:
        # One line for both sentences: it ends after the second one.
        assert fin[0]["end"] - fin[0]["start"] > 5.0, fin
    assert rec.close_code == 1000


def test_a_good_threshold_is_accepted(svc, speech_files):
    rec = Recorder(svc.url, vad_threshold="0.7", end_silence_ms="800")
    rec.send_pcm(silence(0.3) + read_wav(speech_files["fox"]) + silence(1.0), speed=4.0)
    events = rec.until_closed()
    assert len(finals(events)) == 1 and events[-1]["type"] == "done", events


# ------------------------------------------- into the worker (in this process)
def test_the_options_become_the_streams_voice_activity_settings():
    from service.config import ModelConfig
    from service.worker import streaming, vad
    from service.worker.engine import Engine

    assert protocol.VAD_THRESHOLD_DEFAULT == vad.THRESHOLD
    assert protocol.END_SILENCE_MS_DEFAULT / 1000 == streaming.Tuning().min_silence_s
    neg = protocol.VAD_THRESHOLD_DEFAULT - protocol.NEG_THRESHOLD_GAP
    assert neg == pytest.approx(vad.NEG_THRESHOLD)
    engine = Engine(ModelConfig(model="tiny.en", device="cpu"))
    tuning = protocol.stream_tuning(vad_threshold="0.8", end_silence_ms="1200")
    streaming.handle(engine, protocol.stream_open("opts", 16000, "en", tuning))
    try:
        activity = streaming._streams["opts"].activity
        assert activity.threshold == 0.8
        assert activity.neg_threshold == pytest.approx(0.65)
        assert activity.min_silence == 1200 * 16
    finally:
        streaming.handle(engine, protocol.stream_close("opts"))
    assert protocol.stream_tuning() is None
    low = protocol.stream_tuning(vad_threshold=0.1)
    assert low["neg_threshold"] == protocol.NEG_THRESHOLD_FLOOR
