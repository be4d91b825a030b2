"""WS /v1/stream against a real service on the bundled tiny.en: utterances,
flush on stop, bad frames, a worker SIGKILLed mid-stream, several streams."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.support import speech
from tests.support.service_proc import wait_for, wait_live_streams
from tests.support.speech import read_wav

RATE = 16000
CHUNK_S = 0.1
# tiny.en hears espeak's "quick brown fox" as "quick round fox" about half
# the time: these tests are about the protocol, so that is allowed.
FOX_OK = 0.45


# ------------------------------------------------------------------ helpers
def silence(seconds: float) -> bytes:
    return b"\0\0" * int(seconds * RATE)


def ws_url(base: str, **query) -> str:
    q = {"sample_rate": RATE, "language": "en", **query}
    return base.replace("http://", "ws://") + "/v1/stream?" + "&".join(f"{k}={v}" for k, v in q.items())


class Recorder:
    """Sends PCM at `speed` x real time from a thread while the caller's
    thread receives; events are kept with their arrival time."""

    def __init__(self, url: str, **query):
        self.ws = connect(ws_url(url, **query), proxy=None, open_timeout=30, legacy=True)
        self.events: list[dict] = []
        self.times: list[float] = []
        self.t0 = time.monotonic()
        self.sent_s = 0.0
        self.close_code = None
        self.close_reason = None

    def send_pcm(self, pcm: bytes, speed: float = 1.0, stop: bool = True) -> threading.Thread:
        def run():
            step = int(CHUNK_S * RATE) * 2
            start = time.monotonic()
            try:
                for i in range(0, len(pcm), step):
                    self.ws.send(pcm[i:i + step])
                    self.sent_s += len(pcm[i:i + step]) / 2 / RATE
                    wait = start + (i + step) / 2 / RATE / speed - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                if stop:
                    self.ws.send(json.dumps({"type": "stop"}))
            except ConnectionClosed:
                pass
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return th

    def recv(self, timeout: float = 30.0) -> dict | None:
        """The next event, or None once the server closed the socket."""
        try:
            msg = self.ws.recv(timeout=timeout)
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
            self.close_reason = exc.rcvd.reason if exc.rcvd else None
            return None
        event = json.loads(msg)
        self.events.append(event)
        self.times.append(time.monotonic() - self.t0)
        return event

    def until_closed(self, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while self.recv(timeout=max(0.1, deadline - time.monotonic())) is not None:
            if time.monotonic() > deadline:
                raise AssertionError(f"stream still open after {timeout}s: {self.events}")
        return self.events

    def close(self):
        self.ws.close()


def finals(events):
    return [e for e in events if e["type"] == "final"]


def check_shape(events: list[dict]) -> None:
    """Partials then exactly one final per utterance, times moving forward."""
    open_start = None
    last_end = 0.0
    for e in events:
        if e["type"] == "partial":
            assert open_start is None or e["start"] == open_start, events
            open_start = e["start"]
            assert e["end"] >= e["start"]
        elif e["type"] == "final":
            assert open_start is None or e["start"] == open_start, events
            assert e["start"] >= last_end - 1e-6 and e["end"] > e["start"], events
            last_end = e["end"]
            open_start = None
    assert events[-1]["type"] == "done", events


@pytest.fixture(scope="module")
def svc(module_service_factory):
    """One service for the cheap protocol tests, stopped at the module's end."""
    return module_service_factory()


def worker_pid(url: str) -> int:
    return httpx.get(url + "/v1/status", timeout=10).json()["worker_pid"]


def worker_tasks(url: str) -> int:
    """Requests the service has handed to its worker queue so far."""
    return httpx.get(url + "/health", timeout=10).json()["asr_worker"]["total_tasks"]


# ------------------------------------------------------------------ tests
def test_utterances_get_partials_then_one_final(svc, speech_files):
    pcm = (silence(0.5) + read_wav(speech_files["fox"]) + silence(1.0)
           + read_wav(speech_files["train"]) + silence(1.0))
    rec = Recorder(svc.url)
    rec.send_pcm(pcm, speed=1.0)
    events = rec.until_closed()
    check_shape(events)
    fin = finals(events)
    assert len(fin) == 2, events
    assert speech.wer(speech.SENTENCES["fox"][2], fin[0]["text"]) <= FOX_OK, fin
    assert speech.wer(speech.SENTENCES["train"][2], fin[1]["text"]) <= 0.25, fin
    assert sum(e["type"] == "partial" for e in events) >= 4
    # Times are seconds of stream audio: the first utterance begins near 0.5 s.
    assert 0.1 <= fin[0]["start"] <= 0.8 and fin[0]["end"] < fin[1]["start"]
    assert rec.close_code == 1000


def test_stop_flushes_the_last_utterance(svc, speech_files):
    # No silence after the speech: without the flush, these words would be lost.
    rec = Recorder(svc.url)
    rec.send_pcm(silence(0.3) + read_wav(speech_files["apples"]), speed=4.0)
    events = rec.until_closed()
    check_shape(events)
    fin = finals(events)
    assert len(fin) == 1, events
    assert speech.wer(speech.SENTENCES["apples"][2], fin[0]["text"]) <= 0.25, fin
    assert events[-2]["type"] == "final" and events[-1]["type"] == "done"


def test_bad_frames_get_an_error_and_the_stream_goes_on(svc, speech_files):
    pid = worker_pid(svc.url)
    rec = Recorder(svc.url)
    rec.ws.send(b"\x01\x02\x03")                  # odd byte count
    ev = rec.recv()
    assert ev["type"] == "error" and "even" in ev["message"], ev
    rec.ws.send("{not json")
    assert rec.recv()["type"] == "error"
    rec.ws.send(json.dumps({"type": "rewind"}))
    ev = rec.recv()
    assert ev["type"] == "error" and "rewind" in ev["message"]
    rec.ws.send(json.dumps([1, 2]))
    assert rec.recv()["type"] == "error"
    # The same stream still transcribes.
    rec.send_pcm(read_wav(speech_files["fox"]) + silence(0.5), speed=4.0)
    events = rec.until_closed()
    fin = finals(events)
    assert len(fin) == 1 and speech.wer(speech.SENTENCES["fox"][2], fin[0]["text"]) <= FOX_OK
    assert events[-1]["type"] == "done"
    assert worker_pid(svc.url) == pid, "bad frames must never cost the worker"


@pytest.mark.parametrize("query, words", [
    ({"sample_rate": "abc"}, "sample rate"),
    ({"sample_rate": "1000"}, "sample rate"),
    ({"sample_rate": "16000.5"}, "sample rate"),
    ({"language": "klingon"}, "language"),
    ({"language": "de"}, "only knows English"),
])
def test_bad_query_is_refused_with_a_reason(svc, query, words):
    pid = worker_pid(svc.url)
    rec = Recorder(svc.url, **query)
    ev = rec.recv()
    assert ev["type"] == "error" and words in ev["message"], ev
    assert rec.recv() is None
    assert rec.close_code == 1008 and rec.close_reason, (rec.close_code, rec.close_reason)
    assert worker_pid(svc.url) == pid


def test_other_sample_rates_are_resampled(svc, speech_files, tmp_path):
    src = speech_files["train"]
    wav48 = tmp_path / "train48.wav"
    import subprocess

    subprocess.run(["sox", str(src), "-r", "48000", str(wav48)], check=True)
    pcm = read_wav(wav48, rate=48000)
    rec = Recorder(svc.url, sample_rate=48000)
    step = 4800 * 2
    for i in range(0, len(pcm), step):
        rec.ws.send(pcm[i:i + step])
    rec.ws.send(b"\0\0" * 48000)
    rec.ws.send(json.dumps({"type": "stop"}))
    events = rec.until_closed()
    fin = finals(events)
    assert len(fin) == 1 and speech.wer(speech.SENTENCES["train"][2], fin[0]["text"]) <= 0.25
    # stream time counts in seconds, whatever the rate
    assert abs(fin[0]["end"] - len(pcm) / 2 / 48000) < 0.6, fin


def test_a_long_monologue_is_cut_without_losing_words(svc, tmp_path):
    text = ("first we walked along the river and then we crossed the old stone bridge "
            "and after that we climbed the hill behind the village where the church stands "
            "and from the top we could see the lake the forest and the mountains far away "
            "and we stayed there until the sun went down behind the western hills "
            "and then we walked back down the narrow path to the little house by the water")
    wav = speech.speak(tmp_path / "mono.wav", text, "en-us", 160)
    pcm = read_wav(wav)
    assert len(pcm) / 2 / RATE > 20, "the monologue must outlast the 15 s bound"
    rec = Recorder(svc.url)
    rec.send_pcm(pcm + silence(0.6), speed=3.0)
    events = rec.until_closed(timeout=120)
    check_shape(events)
    fin = finals(events)
    assert len(fin) >= 2, events
    for f in fin:
        assert f["end"] - f["start"] <= 15.5, fin
    joined = " ".join(f["text"] for f in fin)
    assert speech.wer(text, joined) <= 0.2, joined


def test_worker_killed_mid_stream_gives_an_error_at_once(service, speech_files):
    svc = service
    rec = Recorder(svc.url)
    rec.send_pcm(read_wav(speech_files["weather"]) + silence(3.0), speed=1.0, stop=False)
    while (ev := rec.recv()) is not None and ev["type"] != "partial":
        pass
    assert ev is not None, rec.events
    old = svc.worker_pid
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()
    while (ev := rec.recv(timeout=5)) is not None and ev["type"] != "error":
        pass
    assert ev is not None and ev["type"] == "error", rec.events
    assert time.monotonic() - killed < 1.5
    assert "worker" in ev["message"] and "new stream" in ev["message"]
    assert rec.recv(timeout=5) is None, "the stream must close after the error"
    rec.close()
    # A new stream works on the restarted worker (it waits for it if needed).
    rec2 = Recorder(svc.url)
    rec2.send_pcm(read_wav(speech_files["fox"]) + silence(0.5), speed=4.0)
    events = rec2.until_closed(timeout=90)
    fin = finals(events)
    assert len(fin) == 1 and speech.wer(speech.SENTENCES["fox"][2], fin[0]["text"]) <= FOX_OK
    assert worker_pid(svc.url) not in (None, old)


def test_streams_and_a_file_share_the_worker(svc, speech_files):
    recs = [Recorder(svc.url) for _ in range(2)]
    keys = ["apples", "train"]
    threads = [r.send_pcm(silence(0.3) + read_wav(speech_files[k]) + silence(0.8), speed=1.0)
               for r, k in zip(recs, keys)]
    result = {}

    def upload():
        with open(speech_files["weather"], "rb") as fh:
            r = httpx.post(svc.url + "/v1/audio/transcriptions", timeout=60,
                           files={"file": ("w.wav", fh, "audio/wav")}, data={"model": "whisper-1"})
        result["file"] = r
    up = threading.Thread(target=upload)
    wait_live_streams(svc.url, 2)  # the file request joins streams already running
    up.start()
    outs = [r.until_closed(timeout=60) for r in recs]
    up.join(60)
    for th in threads:
        th.join(5)
    for k, events in zip(keys, outs):
        fin = finals(events)
        assert len(fin) == 1 and speech.wer(speech.SENTENCES[k][2], fin[0]["text"]) <= 0.25, events
    assert result["file"].status_code == 200
    assert speech.wer(speech.SENTENCES["weather"][2], result["file"].json()["text"]) <= 0.5


def test_too_many_streams_are_refused_with_a_reason(svc):
    from service.config import ServiceConfig

    recs = [Recorder(svc.url) for _ in range(ServiceConfig().max_streams)]  # svc runs the default
    for r in recs:  # audio flows on every one
        r.ws.send(silence(0.1))
    # The service counts every one of them before the extra one asks.
    wait_live_streams(svc.url, len(recs))
    extra = Recorder(svc.url)
    ev = extra.recv()
    assert ev["type"] == "error" and "limit" in ev["message"], ev
    assert extra.recv() is None and extra.close_code == 1013
    for r in recs:
        r.close()
    # Slots free up once clients leave.
    wait_live_streams(svc.url, 0)
    again = Recorder(svc.url)
    again.ws.send(json.dumps({"type": "stop"}))
    events = again.until_closed()
    assert events[-1]["type"] == "done", events


def test_a_client_that_vanishes_mid_request_leaves_the_service_working(svc, speech_files):
    pid = worker_pid(svc.url)
    for _ in range(3):
        before = worker_tasks(svc.url)
        rec = Recorder(svc.url)
        rec.ws.send(read_wav(speech_files["weather"]) * 3)   # ~12 s at once: requests queue up
        # Vanish while one of them is in the worker: the stream's open and at
        # least one feed were queued, and the worker is busy.
        wait_for(svc.url, lambda h: (h["asr_worker"]["total_tasks"] >= before + 2
                                     and h["asr_worker"]["pending_results"] > 0),
                 "a request of the stream reaching the worker", path="/health")
        rec.ws.socket.close()                                # gone, without a close frame
    rec = Recorder(svc.url)
    rec.send_pcm(read_wav(speech_files["train"]) + silence(0.5), speed=4.0)
    events = rec.until_closed(timeout=60)
    fin = finals(events)
    assert len(fin) == 1 and speech.wer(speech.SENTENCES["train"][2], fin[0]["text"]) <= 0.25, events
    assert worker_pid(svc.url) == pid
    # Every vanished client was noticed: no stream is left, nor its requests.
    wait_for(svc.url, lambda st: st["queue_depth"] == 0 and st.get("live_streams") == 0,
             "the queue draining and every stream ending")
