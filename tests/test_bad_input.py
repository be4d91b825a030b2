"""Bad input gets a 4xx with a sentence, and never takes the worker down."""
from __future__ import annotations

import httpx
import pytest

# A real WAV header followed by bytes that were never audio: the header is
# valid (16 kHz mono 16-bit), so to any decoder the bytes ARE audio: 0.32 s of
# a loud 125 Hz sawtooth (the byte ramp read as samples) with no speech in it.
# The service must not call valid audio corrupt, so it answers 200; the VAD
# finds no speech, so the text is empty, as for any clip of noise. A 400 here
# would refuse a well-formed file.
GARBAGE_BYTES = bytes(range(256)) * 40
GARBAGE_SECONDS = len(GARBAGE_BYTES) / 2 / 16000


@pytest.fixture
def svc(service_factory):
    return service_factory("--max-upload-mb", "0.5")


def post(svc, data: bytes, name="a.wav", **form):
    return httpx.post(svc.url + "/v1/audio/transcriptions", files={"file": (name, data)},
                      data=form, timeout=60)


def test_bad_inputs_then_a_good_one(svc, speech_files, tmp_path):
    good = speech_files["fox"].read_bytes()
    wav_header_only = good[:44]
    cases = [
        (b"", 400, "empty"),
        (b"this is not audio at all" * 10, 400, "could not be decoded"),
        (wav_header_only, 400, None),
        (bytes(700 * 1024), 413, "limit"),
    ]
    for data, status, phrase in cases:
        r = post(svc, data)
        assert r.status_code == status, (r.status_code, r.text)
        msg = r.json()["error"]["message"]
        assert msg.endswith(".") and len(msg) > 30, msg
        if phrase:
            assert phrase in msg, msg
    r = post(svc, good[:44] + GARBAGE_BYTES, response_format="verbose_json")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["text"] == "" and body["segments"] == [], body
    assert abs(body["duration"] - GARBAGE_SECONDS) < 0.02, body
    for form, phrase in [({"response_format": "xml"}, "response_format"),
                         ({"language": "klingon"}, "not a language"),
                         ({"language": "de"}, "only knows English"),
                         ({"temperature": "7"}, "temperature")]:
        r = post(svc, good, **form)
        assert r.status_code == 400 and phrase in r.json()["error"]["message"], r.text
    r = httpx.post(svc.url + "/v1/audio/transcriptions", data={"model": "x"})
    assert r.status_code == 422 and "file" in r.json()["error"]["message"]

    st = httpx.get(svc.url + "/v1/status").json()
    assert st["worker_pid"] == svc.worker_pid and st["restarts"] == 0
    r = post(svc, good)
    assert r.status_code == 200 and "lazy dog" in r.json()["text"].lower()


def test_refuses_other_host_without_token(service_factory):
    s = service_factory("--host", "0.0.0.0", wait_ready=False)
    event = s.wait_event()
    assert event["event"] == "error" and "--token" in event["message"]
    assert s.popen.wait(10) == 2
