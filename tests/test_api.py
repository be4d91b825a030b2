"""The HTTP API against a real service on the bundled model, through the
official `openai` client where OpenAI compatibility is the point."""
from __future__ import annotations

import re

import httpx
import pytest
from openai import OpenAI

from service.safety import gpu
from tests.support.speech import SENTENCES, wer

FOX = SENTENCES["fox"][2]
# A cue's timing line: HH:MM:SS,mmm in SubRip, HH:MM:SS.mmm in WebVTT.
CUE_TIMES = {"srt": re.compile(r"^\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$"),
             "vtt": re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}$")}


def cue_text(body: str, fmt: str) -> str:
    """The words of every cue of an SRT or WebVTT body, in order; fails when a
    block is not a well-formed cue, so stray timing text never reaches the WER."""
    blocks = [b.splitlines() for b in re.split(r"\n\s*\n", body.strip()) if b.strip()]
    if fmt == "vtt":
        assert blocks and blocks[0] == ["WEBVTT"], body
        blocks = blocks[1:]
    texts = []
    for i, lines in enumerate(blocks, 1):
        if fmt == "srt":  # index line, then the timing line
            assert lines[0] == str(i), (lines, body)
            lines = lines[1:]
        assert len(lines) >= 2 and CUE_TIMES[fmt].match(lines[0]), (lines, body)
        texts.append(" ".join(lines[1:]))
    assert texts, f"no cue in {body!r}"
    return " ".join(texts)


@pytest.fixture(scope="module")
def svc(module_service_factory):
    """One service for the module (cheap requests that do not disturb each other)."""
    return module_service_factory()


@pytest.fixture(scope="module")
def client(svc):
    return OpenAI(base_url=svc.url + "/v1", api_key="unused")


@pytest.mark.parametrize("fmt", ["json", "verbose_json"])
def test_openai_client_json_formats(client, speech_files, fmt):
    with open(speech_files["fox"], "rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format=fmt)
    assert wer(FOX, result.text) <= 0.35, result.text
    if fmt == "verbose_json":
        assert result.language == "english"
        assert 2.0 < result.duration < 6.0
        assert result.segments and result.segments[0].end > result.segments[0].start


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt"])
def test_openai_client_text_formats(client, speech_files, fmt):
    with open(speech_files["fox"], "rb") as fh:
        result = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format=fmt)
    assert isinstance(result, str)
    text = result if fmt == "text" else cue_text(result, fmt)
    assert wer(FOX, text) <= 0.35, result
    if fmt == "srt":
        assert result.startswith("1\n00:00:00,000 --> ")
    if fmt == "vtt":
        assert result.startswith("WEBVTT\n")


def test_word_timestamps_and_language_prompt(client, speech_files):
    with open(speech_files["apples"], "rb") as fh:
        result = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json", language="en",
            prompt="Fruit.", temperature=0.0, timestamp_granularities=["word"])
    assert result.words and all(w.end >= w.start for w in result.words)


def test_health_status_models_docs(svc):
    h = httpx.get(svc.url + "/health").json()
    assert h["status"] == "ok" and h["asr_worker"]["worker_pid"] == svc.worker_pid
    st = httpx.get(svc.url + "/v1/status").json()
    assert st["service_pid"] == svc.pid and st["worker_pid"] == svc.worker_pid
    assert st["state"] == "ready" and st["model"] == "tiny.en" and st["device"] == "cpu"
    roles = {p["role"]: p for p in st["processes"]}
    assert roles["worker"]["rss"] > 50 * 2**20 and roles["service"]["alive"]
    probe = gpu.probe()
    assert st["gpu"] == (probe.reason if probe.available else "no GPU")
    assert httpx.get(svc.url + "/v1/models").json()["data"][0]["id"] == "tiny.en"
    assert httpx.get(svc.url + "/docs").status_code == 200


def test_control_endpoints_need_the_token(svc):
    for path in ("/v1/worker/restart", "/v1/shutdown"):
        r = httpx.post(svc.url + path)
        assert r.status_code == 401 and "token" in r.json()["error"]["message"]
        r = httpx.post(svc.url + path, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
