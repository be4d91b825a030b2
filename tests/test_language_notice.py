"""An English-only model (the bundled tiny.en) given speech in another
language says so, once per stream: espeak Mandarin and Spanish get the
`not_english` notice, English of three voices never does. /v1/status says
which languages the loaded model knows."""
from __future__ import annotations

import httpx
import pytest

from service.worker import language_notice
from tests.support import speech
from tests.support.speech import read_wav
from tests.test_stream_protocol import Recorder, finals, silence

# Sentences measured for service/worker/language_notice.py (espeak-ng, 150 wpm).
MANDARIN = ["今天天气很好，我们去公园散步吧。", "我喜欢在早上吃苹果和香蕉。",
            "请记得在回家的路上买牛奶、面包和咖啡。"]
SPANISH = ["El rápido zorro marrón salta sobre el perro perezoso.",
           "Me gusta comer manzanas y plátanos por la mañana.",
           "Hoy hace sol y sopla una brisa ligera del oeste."]


@pytest.fixture(scope="module")
def svc(module_service_factory):
    return module_service_factory()


def spoken(tmp_path, voice: str, sentences: list[str]) -> bytes:
    pcm = silence(0.5)
    for i, text in enumerate(sentences):
        pcm += read_wav(speech.speak(tmp_path / f"{voice}{i}.wav", text, voice, 150))
        pcm += silence(1.0)
    return pcm


def notices(events: list[dict]) -> list[dict]:
    return [e for e in events if e["type"] == "notice"]


def stream(url: str, pcm: bytes, **query) -> list[dict]:
    rec = Recorder(url, **query)
    rec.send_pcm(pcm, speed=4.0)
    events = rec.until_closed(timeout=120)
    assert events[-1]["type"] == "done" and rec.close_code == 1000, events
    return events


@pytest.mark.parametrize("voice, sentences, language", [("cmn", MANDARIN, "en"),
                                                        ("es", SPANISH, "auto")])
def test_other_languages_get_one_notice(svc, tmp_path, voice, sentences, language):
    events = stream(svc.url, spoken(tmp_path, voice, sentences), language=language)
    said = notices(events)
    assert len(said) == 1, events
    notice = said[0]
    assert notice["code"] == "not_english", notice
    assert "does not sound like English" in notice["message"]
    assert "tiny.en" in notice["message"] and "base" in notice["message"]
    # It follows the final that decided it, and the stream's finals go on.
    first_final = next(i for i, e in enumerate(events) if e["type"] == "final")
    assert events.index(notice) > first_final
    assert len(finals(events)) >= len(sentences) - 1, events


def test_english_of_three_voices_gets_none(svc, speech_files):
    # fox: en-us, apples: en-gb, weather: en+f3, train: en-us at 170 wpm
    pcm = silence(0.5)
    for key in ("fox", "apples", "weather", "train"):
        pcm += read_wav(speech_files[key]) + silence(1.0)
    events = stream(svc.url, pcm)
    assert len(finals(events)) == 4, events
    assert not notices(events), notices(events)


def test_status_names_the_models_languages(svc):
    status = httpx.get(svc.url + "/v1/status", timeout=10).json()
    assert status["model"] == "tiny.en"
    assert status["multilingual"] is False
    assert status["languages"] == ["en"]


def test_the_notice_needs_several_foreign_finals_and_comes_once():
    watch = language_notice.NotEnglishWatch("tiny.en")
    english = {"avg_logprob": -0.2}
    foreign = {"avg_logprob": -1.2}
    # Short finals are not judged at all, however they score.
    assert watch.after_final("Mm, right.", 1.3, foreign) is None
    assert watch.after_final("One odd English line.", 3.0, foreign) is None
    assert watch.after_final("And a good English line after it.", 3.0, english) is None
    assert watch.after_final("And another one of them here.", 3.0, english) is None
    # 2 of 4 judged finals foreign: half, and two of them: now it speaks.
    notice = watch.after_final("Gibberish the decoder was unsure of.", 3.0, foreign)
    assert notice is not None and notice["code"] == "not_english"
    assert watch.after_final("More gibberish of the same kind.", 3.0, foreign) is None
    # Digits with a poor score, or seconds of speech with a word or two, are foreign too.
    assert language_notice.Evidence.of("1, 2, 1, 1, 3", 5.0, {"avg_logprob": -0.4}).foreign
    assert language_notice.Evidence.of("4, 4,", 6.0, {"avg_logprob": -0.2}).foreign
    assert not language_notice.Evidence.of("1, 2, 3, 4, 5, 6, 7, 8, 9, 10", 4.3,
                                           {"avg_logprob": -0.15}).foreign
