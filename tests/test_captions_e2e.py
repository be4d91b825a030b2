"""The real path: espeak speech into PulseAudio's FIFO microphone, captured
by the CaptionsWindow's LiveCaptions through sounddevice ("pulse"), streamed to a real
service on tiny.en, shown in the window and exported."""
from __future__ import annotations

import os
import re
import signal

import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # enough for a plain window

from tests.support import speech  # noqa: E402
from tests.support.service_proc import start_service  # noqa: E402
from tests.support.microphone import mic, need_mic  # noqa: E402,F401
from tests.support.speech import read_wav  # noqa: E402

GAP = b"\0\0" * int(16000 * 1.2)


@pytest.fixture
def svc(tmp_path):
    need_mic()
    s = start_service(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def window(qtbot, svc):
    from gui.widgets.captions_window import CaptionsWindow

    w = CaptionsWindow(service_url=lambda: svc.url)
    w.show()   # not qtbot.addWidget: that deletes the window before this teardown runs
    qtbot.waitUntil(lambda: w.device_box.count() > 0, timeout=10000)
    assert w.select_device("ALSA|pulse"), [w.device_box.itemText(i) for i in range(w.device_box.count())]
    yield w
    if w.is_listening():
        w.stop_captions()
    qtbot.waitUntil(w.live.is_idle, timeout=30000)
    w.close()
    w.deleteLater()


def start_listening(qtbot, w) -> None:
    with qtbot.waitSignal(w.listening_changed, timeout=5000) as sig:
        w.start_captions()
    assert sig.args == [True]
    qtbot.waitUntil(lambda: w.status.text().startswith("Listening"), timeout=15000)


def cue_blocks(srt: str) -> list[tuple[float, float, str]]:
    out = []
    for block in srt.strip().split("\n\n"):
        lines = block.splitlines()
        m = re.match(r"(\d+):(\d+):(\d+),(\d+) --> (\d+):(\d+):(\d+),(\d+)", lines[1])
        g = [int(x) for x in m.groups()]
        out.append((g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000,
                    g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000, " ".join(lines[2:])))
    return out


def test_captions_show_the_words_and_export(qtbot, window, mic, speech_files, tmp_path):
    w = window
    start_listening(qtbot, w)
    keys = ["train", "apples"]
    pcm = b"".join(read_wav(speech_files[k]) + GAP for k in keys)
    mic.say(pcm)
    qtbot.waitUntil(lambda: len(w.live.session.segments) >= 2, timeout=40000)
    assert w.view.final_text().count("\n") >= 1

    # The last sentence: Stop while it is still being said. What was heard
    # up to Stop must come back as a final (the flush), not be dropped.
    # Long enough (~5 s) that Stop lands inside it even on a busy machine.
    last_text = "I would like to eat apples and bananas and oranges every single morning of the week"
    last = read_wav(speech.speak(tmp_path / "last.wav", last_text, "en-gb", 150))
    mic.say(last + GAP)
    ref = speech.words(last_text)
    qtbot.waitUntil(lambda: len(set(speech.words(w.view.partial_text())) & set(ref)) >= 4,
                    timeout=20000)
    heard = w.view.partial_text()
    n_before = len(w.live.session.segments)
    with qtbot.waitSignal(w.listening_changed, timeout=5000):
        w.stop_captions()
    assert not w.is_listening()
    qtbot.waitUntil(lambda: len(w.live.session.segments) == n_before + 1, timeout=20000)
    qtbot.waitUntil(w.live.is_idle, timeout=20000)
    flushed = w.live.session.segments[-1]["text"]
    # Every word the last partial had is in the final (give or take one).
    assert len(set(speech.words(heard)) - set(speech.words(flushed))) <= 1, (heard, flushed)
    assert speech.wer(" ".join(ref[:4]), " ".join(speech.words(flushed)[:4])) <= 0.5, flushed

    # What the window shows
    shown = w.view.toPlainText()
    for k, seg in zip(keys, w.live.session.segments):
        assert speech.wer(speech.SENTENCES[k][2], seg["text"]) <= 0.35, seg
    assert speech.wer(" ".join(speech.SENTENCES[k][2] for k in keys),
                      " ".join(shown.splitlines()[:2])) <= 0.3, shown
    assert w.view.partial_text() == ""

    # Exports
    srt = w.export(tmp_path / "s.srt", "srt").read_text()
    cues = cue_blocks(srt)
    assert len(cues) == 3, srt
    assert [c[2] for c in cues] == [s["text"] for s in w.live.session.segments]
    for (a0, a1, _), (b0, b1, _) in zip(cues, cues[1:]):
        assert a0 < a1 <= b0 < b1, cues
    first_len = len(read_wav(speech_files[keys[0]])) / 32000
    assert abs((cues[0][1] - cues[0][0]) - first_len) < 0.8, (cues[0], first_len)
    # the 1.2 s pause between the sentences shows between the cues
    assert 0.6 < cues[1][0] - cues[0][1] < 1.6, cues
    vtt = w.export(tmp_path / "s.vtt", "vtt").read_text()
    assert vtt.startswith("WEBVTT") and vtt.count(" --> ") == 3
    assert re.search(r"\d\d:\d\d:\d\d\.\d\d\d --> ", vtt)
    txt = w.export(tmp_path / "s.txt", "txt").read_text()
    assert txt.splitlines() == [s["text"] for s in w.live.session.segments]


def test_worker_killed_mid_captions_reconnects_by_itself(qtbot, window, mic, svc, speech_files):
    """The service restarts a killed worker and ends its streams (error event,
    close 1011 "worker restarted"): that is not the person's problem. The
    window keeps listening, says so in one calm line (no `error`), opens a
    new stream by itself, and the next sentence is captioned."""
    w = window
    start_listening(qtbot, w)
    errors, listening = [], []
    w.error.connect(errors.append)
    w.listening_changed.connect(listening.append)
    mic.say(read_wav(speech_files["apples"]) + GAP)
    qtbot.waitUntil(lambda: len(w.live.session.segments) == 1, timeout=30000)
    mic.say(read_wav(speech_files["weather"]) + GAP)
    qtbot.wait(1500)   # mid-sentence (it lasts about 4 s)
    os.kill(svc.worker_pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: "restarting" in w.status.text(), timeout=10000)
    assert w.is_listening() and w.start_button.text() == "Stop"
    qtbot.waitUntil(lambda: w.status.text().startswith("Listening again on"), timeout=90000)
    assert not errors and not listening, (errors, listening)

    mic.hush()   # the rest of the sentence that was cut off is not what this checks
    before = len(w.live.session.segments)
    mic.say(read_wav(speech_files["train"]) + GAP)
    train = set(speech.words(speech.SENTENCES["train"][2]))
    # Most of its words in the new lines (the service may cut it in two)
    qtbot.waitUntil(lambda: len(train & set(speech.words(" ".join(
        s["text"] for s in w.live.session.segments[before:])))) >= 0.7 * len(train),
        timeout=60000)
    assert not errors and not listening, (errors, listening)
    assert w.is_listening()
    # one timeline: the new stream's lines come after the old stream's, by at
    # least the weather sentence that was being said in between
    first, last = w.live.session.segments[0], w.live.session.segments[-1]
    assert last["start"] > first["end"] + 1.0, w.live.session.segments


def test_start_without_a_service_says_what_to_do(qtbot):
    from gui.widgets.captions_window import CaptionsWindow

    w = CaptionsWindow(service_url=lambda: None)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.error, timeout=2000) as sig:
        w.start_captions()
    assert "service is not running" in sig.args[0] and "Start" in sig.args[0]
    assert not w.is_listening()
    qtbot.waitUntil(lambda: not w.live.is_listing(), timeout=10000)
