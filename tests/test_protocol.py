"""service/protocol.py is the whole worker protocol: the worker's dispatch
(service/worker/main.py) serves every request op it lists and refuses any
other with a sentence, and the fronts build their messages with it.

No model: main.handle is called with a stand-in engine, and the stream ops
with a stand-in for the per-stream state (its VAD and decoder need a model).
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from service import protocol
from service.errors import BadInput
from service.worker import main as worker_main
from service.worker import streaming


class StandInEngine:
    """What main.handle and the op handlers use of worker/engine.Engine."""
    info = SimpleNamespace(model="stand-in", multilingual=False)

    def __init__(self):
        self.calls: list[str] = []

    @staticmethod
    def vad(x: np.ndarray) -> np.ndarray:
        return np.zeros((x.size // 512, 1), np.float32)   # Silero hearing silence

    def check_request(self, options: dict, language_fix: str = "") -> None:
        self.calls.append("check_request")

    def decode_file(self, data: bytes, max_seconds: float = 0) -> np.ndarray:
        self.calls.append("decode_file")
        return np.zeros(16000, np.float32)

    def transcribe(self, audio: np.ndarray, options: dict) -> dict:
        self.calls.append("transcribe")
        return {"text": "stand-in", "segments": [], "language": "en"}


class StandInStream:
    def __init__(self, engine, sid, sample_rate, language, tuning):
        self.judged, self.compute, self.touched = 0, 0.0, time.monotonic()

    def feed(self, pcm: bytes) -> list:
        return []

    def flush(self) -> list:
        return []

    def _sec(self, sample: int) -> float:
        return 0.0


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(streaming, "Stream", StandInStream)
    yield StandInEngine()
    streaming._streams.clear()


def one_of_each(sid: str = "proto-test") -> dict[str, dict]:
    """A request of every op, built with protocol's builders."""
    silence = bytes(16000 * 2)
    return {
        protocol.TRANSCRIBE_FILE: protocol.transcribe_file(b"RIFF stand-in", {}),
        protocol.UTTERANCE: protocol.utterance(silence, "pcm16", 16000, {"language": "en"},
                                               padding_ms=0, use_context_buffer=True,
                                               use_text_context=True, trace_id="t", state={}),
        protocol.STREAM_OPEN: protocol.stream_open(sid, 16000, "en"),
        protocol.STREAM_FEED: protocol.stream_feed(sid, silence),
        protocol.STREAM_FLUSH: protocol.stream_flush(sid),
        protocol.STREAM_CLOSE: protocol.stream_close(sid),
    }


def test_every_request_op_has_a_builder_here():
    assert set(one_of_each()) == set(protocol.REQUESTS)
    assert set(protocol.STREAM_OPS) <= set(protocol.REQUESTS)
    assert protocol.STOP not in protocol.REQUESTS   # the loop ends on it; it gets no reply


def test_the_worker_handles_every_request_op(engine):
    results = {}
    for op, msg in one_of_each().items():   # in order: a stream is opened before it is fed
        results[op] = worker_main.handle(engine, dict(msg, id=1))
    assert results[protocol.TRANSCRIBE_FILE]["text"] == "stand-in"
    assert engine.calls[:2] == ["decode_file", "transcribe"]
    assert results[protocol.UTTERANCE]["response"]["text"] == ""          # silence: no speech
    assert results[protocol.UTTERANCE]["response"]["vad_segments"] == []
    assert results[protocol.STREAM_OPEN]["stream"] == "proto-test"
    assert results[protocol.STREAM_FEED]["events"] == []
    assert results[protocol.STREAM_FLUSH]["events"] == []
    assert results[protocol.STREAM_CLOSE] == {"closed": "proto-test"}


@pytest.mark.parametrize("op", ["transcribe_pcm", "ping", "stream_count", None, "stop_all"])
def test_an_unknown_op_is_refused_with_a_sentence(engine, op):
    with pytest.raises(BadInput) as err:
        worker_main.handle(engine, {"id": 1, "op": op})
    assert err.value.status == 400
    message = err.value.message
    assert repr(op) in message and message.endswith(".") and message[0].isupper()
    assert engine.calls == []   # refused before any work


def test_replies_and_events_have_the_documented_shape():
    assert protocol.reply(7, {"x": 1}) == {"id": 7, "ok": True, "result": {"x": 1}}
    assert protocol.failure(7, 400, "No.") == {"id": 7, "ok": False, "status": 400,
                                               "message": "No."}
    assert protocol.ready({"model": "m"}) == {"event": protocol.READY, "info": {"model": "m"}}
    assert protocol.load_failed("Bad.") == {"event": protocol.LOAD_FAILED, "message": "Bad."}
    assert protocol.stop() == {"op": protocol.STOP}


def test_the_node_front_builds_the_utterance_message_with_protocol():
    from service.fronts.node_api import UtteranceRequest, worker_message

    req = UtteranceRequest(job_id="j", audio="AAAA", audio_format="pcm16", sample_rate=16000)
    msg = worker_message(req, max_bytes=2**20)
    assert msg["op"] == protocol.UTTERANCE
    built = protocol.utterance(b"", "pcm16", 16000, {}, 0, True, True, "j")
    assert set(msg) == set(built)


def test_front_and_worker_refuse_a_too_long_utterance_alike():
    from service.worker.utterance import decode

    seconds = protocol.MAX_UTTERANCE_SECONDS + 1
    with pytest.raises(BadInput) as front:
        protocol.check_utterance_length(seconds)
    pcm = bytes(int(seconds * 8000) * 2)   # 8 kHz, so the worker counts the same seconds
    with pytest.raises(BadInput) as worker:
        decode(StandInEngine(), pcm, "pcm16", 8000)
    assert front.value.message == worker.value.message
    assert f"at most {protocol.MAX_UTTERANCE_SECONDS} s" in front.value.message
