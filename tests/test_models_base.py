"""`asr-service serve --model base`: the offline multilingual model, joined
from its two packages on first use, transcribes English and Spanish (espeak's
Spanish is intelligible to Whisper base; its Mandarin is not)."""
from __future__ import annotations

import os
import unicodedata

import httpx
import pytest

from service.models.cache import CACHE_ENV
from service.safety.markers import without_markers
from tests.support import speech

SPANISH = "El perro come carne y el gato bebe leche en la cocina."
MAX_WER_EN = 0.35
MAX_WER_ES = 0.5   # base hears espeak's Spanish a few words off ("hueve" for "bebe")


@pytest.fixture(scope="module")
def base_service(module_service_factory, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "model-cache"   # shared with other modules
    env = dict(without_markers(os.environ), **{CACHE_ENV: str(cache)})
    return module_service_factory("--model", "base", env=env)


@pytest.fixture(scope="module")
def spanish_wav(tmp_path_factory):
    return speech.speak(tmp_path_factory.mktemp("es") / "es.wav", SPANISH, "es", 150)


def plain(text: str) -> str:
    """Without accents, so speech.wer's [a-z'] words see whole Spanish words."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def transcribe(svc, path, **fields) -> dict:
    r = httpx.post(svc.url + "/v1/audio/transcriptions", timeout=120, data=fields,
                   files={"file": (path.name, path.read_bytes())})
    assert r.status_code == 200, r.text
    return r.json()


def test_base_is_the_loaded_multilingual_model(base_service):
    st = httpx.get(base_service.url + "/v1/status", timeout=10).json()
    assert st["model"] == "base" and st["multilingual"] is True, st


def test_base_transcribes_english(base_service, speech_files):
    out = transcribe(base_service, speech_files["fox"], response_format="verbose_json")
    assert out["language"] == "english"
    assert speech.wer(speech.SENTENCES["fox"][2], out["text"]) <= MAX_WER_EN, out["text"]


def test_base_transcribes_spanish(base_service, spanish_wav):
    out = transcribe(base_service, spanish_wav, language="es")
    assert speech.wer(plain(SPANISH), plain(out["text"])) <= MAX_WER_ES, out["text"]
