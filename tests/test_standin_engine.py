"""ASR_TRAY_ENGINE=standin (DESIGN.md: a test aid, never a default): the
worker runs for real without the model stack and answers with a fixed text."""
from __future__ import annotations

import os

import httpx

from service.worker.standin_engine import TEXT


def test_standin_engine_answers_without_the_model_stack(service_factory, speech_files):
    svc = service_factory(env=dict(os.environ, ASR_TRAY_ENGINE="standin"))
    r = httpx.post(svc.url + "/v1/audio/transcriptions", timeout=30,
                   files={"file": ("fox.wav", speech_files["fox"].read_bytes())})
    assert r.status_code == 200 and r.json()["text"] == TEXT, r.text
    st = httpx.get(svc.url + "/v1/status", timeout=10).json()
    assert st["model"] == "standin" and st["worker_pid"] == svc.worker_pid
    with open(f"/proc/{svc.worker_pid}/maps") as fh:
        maps = fh.read()
    for lib in ("ctranslate2", "onnxruntime", "libtorch"):
        assert lib not in maps, f"the stand-in worker loaded {lib}"
    # What it cannot do, it says.
    r = httpx.post(svc.url + "/utterance", timeout=30,
                   json={"job_id": "j", "audio": "AAAA", "audio_format": "pcm16"})
    assert r.status_code == 400 and "stand-in" in r.json()["error"]["message"], r.text


def test_without_the_variable_the_real_model_answers(service, speech_files):
    r = httpx.post(service.url + "/v1/audio/transcriptions", timeout=60,
                   files={"file": ("fox.wav", speech_files["fox"].read_bytes())})
    assert r.status_code == 200 and r.json()["text"] != TEXT
