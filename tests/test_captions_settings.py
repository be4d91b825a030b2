"""The captions window and the user's settings (issue 11): the text size,
always-on-top, geometry and export folder come back in the next window and
are written when they change; the saved microphone is picked when it is
there (and its absence said calmly); the language box offers Automatic plus
the loaded model's languages (a real tiny.en and a real base service); the
stream is opened with the picked language and the saved VAD settings (read
from the service's own log of the request); espeak Mandarin into a real
tiny.en stream shows the service's `not_english` notice in the window, once.

Every test has an empty settings folder of its own (ASR_TRAY_CONFIG_DIR,
tests/conftest.py)."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QSize, Qt  # noqa: E402

from gui.controllers.stream_client import StreamClient, StreamOptions  # noqa: E402
from gui.settings.store import EDITED, REMEMBERED, SettingsStore  # noqa: E402
from tests.support import speech  # noqa: E402
from tests.support.microphone import mic, need_mic  # noqa: E402,F401
from tests.support.speech import read_wav  # noqa: E402

GAP = b"\0\0" * int(16000 * 1.0)
# espeak-ng's Mandarin (`-v cmn`): the three sentences measured for
# service/worker/language_notice.py, and a fourth for margin (the notice needs two
# foreign finals, and a live microphone may cut a sentence differently)
MANDARIN = ["今天天气很好，我们去公园散步吧。", "我喜欢在早上吃苹果和香蕉。",
            "请记得在回家的路上买牛奶、面包和咖啡。", "我们明天早上八点在学校门口见面。"]


def save_settings(**values) -> SettingsStore:
    """Write settings as the Settings window (EDITED) and the windows
    themselves (REMEMBERED) would."""
    store = SettingsStore()
    edited = {k: v for k, v in values.items() if k in EDITED}
    if edited:
        store.save(replace(store.load(), **edited))
    for name in REMEMBERED:
        if name in values:
            store.remember(name, values[name])
    return store


def new_window(qtbot, service_url=lambda: None):
    from gui.widgets.captions_window import CaptionsWindow

    w = CaptionsWindow(service_url=service_url)
    qtbot.addWidget(w)
    return w


def listed(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.live.is_listing(), timeout=10000)


def choices(box) -> list:
    return [box.itemData(i) for i in range(box.count())]


def placed(qtbot, w, size: QSize, pos: QPoint | None = None) -> None:
    """`w` has `size` (and `pos`), give or take a window frame: X11 applies a
    geometry asynchronously, and Qt's offscreen platform (which another
    module of the session may have chosen) restores one short by its fake
    2-pixel frame. (Sizes fit offscreen's 800x600 screen: restoreGeometry
    keeps a window on the screen it finds.)"""
    def near(a: int, b: int) -> bool:
        return abs(a - b) <= 4

    def there() -> bool:
        return (near(w.width(), size.width()) and near(w.height(), size.height())
                and (pos is None or (near(w.x(), pos.x()) and near(w.y(), pos.y()))))
    qtbot.waitUntil(there, timeout=5000)


class FakeStream:
    """What the controller asks of a stream for a final: when its audio began."""
    source = SimpleNamespace(started_at=0.0)


# ------------------------------------------------------------ remembered without asking
def test_text_size_on_top_and_geometry_come_back_and_are_written_when_changed(qtbot):
    store = save_settings(captions_font_size=20, captions_on_top=True)
    first = new_window(qtbot)
    assert first.font_size.value() == 20 and first.view.font().pointSize() == 20
    assert first.on_top.isChecked() and first.windowFlags() & Qt.WindowStaysOnTopHint
    first.show()
    qtbot.waitExposed(first)
    first.resize(700, 380)
    first.move(40, 30)
    placed(qtbot, first, QSize(700, 380), QPoint(40, 30))
    # Written shortly after the move, without a close (a quit with the window open keeps it)
    qtbot.waitUntil(lambda: store.geometry("captions") is not None, timeout=5000)
    listed(qtbot, first)
    first.close()

    second = new_window(qtbot)
    second.show()
    placed(qtbot, second, QSize(700, 380), QPoint(40, 30))
    second.font_size.setValue(17)
    second.on_top.setChecked(False)
    saved = SettingsStore().load()
    assert saved.captions_font_size == 17 and saved.captions_on_top is False
    assert not second.windowFlags() & Qt.WindowStaysOnTopHint
    second.resize(750, 440)
    placed(qtbot, second, QSize(750, 440))
    second.close()                                      # a close writes at once
    listed(qtbot, second)
    third = new_window(qtbot)
    assert third.font_size.value() == 17 and not third.on_top.isChecked()
    third.show()
    placed(qtbot, third, QSize(750, 440))
    listed(qtbot, third)


def test_export_opens_in_the_last_folder_and_remembers_the_new_one(qtbot, tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    save_settings(export_folder=str(before))
    w = new_window(qtbot)
    w.live.on_final(FakeStream(), {"type": "final", "text": "Hello there.",
                                   "start": 0.5, "end": 1.5})
    srt_action = w.export_button.menu().actions()[1]    # txt, srt, vtt
    srt_action.trigger()
    dialog = w.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert Path(dialog.directory().absolutePath()) == before
    assert dialog.selectedFiles()[0].endswith(".srt")
    dialog.selectFile(str(after / "talk.srt"))
    dialog.accept()
    assert (after / "talk.srt").read_text().endswith("Hello there.\n")
    assert SettingsStore().load().export_folder == str(after)
    assert "Saved 1 lines" in w.status.text()

    srt_action.trigger()                                 # the next export starts there
    assert Path(w.export_dialog.directory().absolutePath()) == after
    w.export_dialog.reject()
    assert SettingsStore().load().export_folder == str(after)
    listed(qtbot, w)


def test_a_gone_export_folder_falls_back_to_home(qtbot, tmp_path):
    save_settings(export_folder=str(tmp_path / "unplugged-drive"))
    w = new_window(qtbot)
    w.export_button.menu().actions()[0].trigger()
    assert Path(w.export_dialog.directory().absolutePath()) == Path.home()
    w.export_dialog.reject()
    listed(qtbot, w)


# ------------------------------------------------------------ microphone
def test_the_saved_microphone_is_picked_and_a_missing_one_said_calmly(qtbot):
    need_mic()
    save_settings(microphone="ALSA|pulse")
    w = new_window(qtbot)
    qtbot.waitUntil(lambda: w.device_box.count() > 0, timeout=10000)
    assert w.device_box.currentData().key == "ALSA|pulse"
    assert w.device_box.currentIndex() > 0                 # not the default, which is first
    listed(qtbot, w)

    save_settings(microphone="ALSA|Studio USB microphone")
    gone = new_window(qtbot)
    qtbot.waitUntil(lambda: gone.device_box.count() > 0, timeout=10000)
    assert gone.device_box.currentIndex() == 0             # the system's default
    text = gone.status.text()
    assert "Studio USB microphone" in text and "not connected" in text, text
    assert gone.device_box.currentText() in text and gone.status.styleSheet() == ""

    # Picking one here is the setting from now on.
    pulse = next(i for i, d in enumerate(choices(gone.device_box)) if d.key == "ALSA|pulse")
    gone.device_box.setCurrentIndex(pulse)
    gone.device_box.activated.emit(pulse)
    assert SettingsStore().load().microphone == "ALSA|pulse"
    listed(qtbot, gone)


# ------------------------------------------------------------ with a real service
@pytest.fixture(scope="module")
def tiny(module_service_factory):
    return module_service_factory()


@pytest.fixture
def open_windows(qtbot):
    """Windows on a real service: closed after the test once their streams ended
    (not qtbot.addWidget: that deletes a window before this teardown runs)."""
    made = []

    def make(url: str):
        from gui.widgets.captions_window import CaptionsWindow

        w = CaptionsWindow(service_url=lambda: url)
        made.append(w)
        return w
    yield make
    for w in made:
        if w.is_listening():
            w.stop_captions()
        qtbot.waitUntil(w.live.is_idle, timeout=30000)
        qtbot.waitUntil(lambda: not w.live.is_listing(), timeout=10000)
        w.close()
        w.deleteLater()


def test_an_english_only_model_offers_automatic_and_english(qtbot, tiny, open_windows):
    save_settings(language="zh")                  # chosen once, with a multilingual model
    w = open_windows(tiny.url)
    assert choices(w.language_box) == ["", "zh"]  # before the service answered: the saved one
    assert w.language_box.currentData() == "zh"
    w.show()                                      # asks the service which languages it has
    qtbot.waitUntil(lambda: choices(w.language_box) == ["", "en"], timeout=10000)
    assert w.language_box.itemText(0).startswith("Automatic")
    assert "(en)" in w.language_box.itemText(1)
    assert w.language_box.currentData() == ""     # zh is not offered: Automatic
    text = w.status.text()
    assert "tiny.en" in text and "base" in text and "(zh)" in text, text
    assert w.stream_options().language == ""
    assert SettingsStore().load().language == "zh"   # kept for a multilingual model


def test_the_multilingual_base_offers_its_languages(qtbot, service_factory, open_windows):
    base = service_factory("--model", "base")
    save_settings(language="es")
    w = open_windows(base.url)
    w.show()
    qtbot.waitUntil(lambda: w.language_box.count() > 90, timeout=15000)
    offered = choices(w.language_box)
    assert offered[0] == "" and {"en", "zh", "es", "de"} <= set(offered[1:])
    assert len(offered) == len(set(offered))
    labels = [w.language_box.itemText(i) for i in range(1, w.language_box.count())]
    assert labels == sorted(labels, key=str.casefold)    # by name: typing finds one
    assert w.language_box.currentData() == "es"
    assert w.stream_options().language == "es"
    # A pick here is the saved language (the one the Settings window shows).
    zh = offered.index("zh")
    w.language_box.setCurrentIndex(zh)
    w.language_box.activated.emit(zh)
    assert SettingsStore().load().language == "zh"
    assert w.stream_options().language == "zh"


def test_stream_options_leave_out_what_the_service_decides():
    client = StreamClient("http://127.0.0.1:9/", lambda: None)
    assert client.url == "ws://127.0.0.1:9/v1/stream?sample_rate=16000"
    options = StreamOptions(language="de", vad_threshold=0.35, end_silence_ms=900)
    assert StreamClient("http://127.0.0.1:9", lambda: None, options).url.endswith(
        "/v1/stream?sample_rate=16000&language=de&vad_threshold=0.35&end_silence_ms=900")


def service_saw(svc, query: str) -> bool:
    """The service logs each WebSocket it accepts with its query string (the
    client connects just after the microphone opened: poll for it)."""
    return f'"WebSocket /v1/stream?{query}" [accepted]' in Path(svc.stderr_path).read_text()


def start_listening(qtbot, w) -> None:
    with qtbot.waitSignal(w.listening_changed, timeout=5000) as sig:
        w.start_captions()
    assert sig.args == [True]
    qtbot.waitUntil(lambda: w.status.text().startswith("Listening"), timeout=15000)


def stop_listening(qtbot, w) -> None:
    with qtbot.waitSignal(w.listening_changed, timeout=5000):
        w.stop_captions()
    qtbot.waitUntil(w.live.is_idle, timeout=20000)


def pick_pulse(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.device_box.count() > 0, timeout=10000)
    assert w.select_device("ALSA|pulse"), choices(w.device_box)


def test_the_stream_carries_the_language_and_the_vad_settings(qtbot, tiny, open_windows, mic):
    save_settings(language="en", vad_threshold=0.65, end_silence_ms=1200)
    w = open_windows(tiny.url)
    w.show()
    pick_pulse(qtbot, w)
    start_listening(qtbot, w)
    assert not w.language_box.isEnabled()        # fixed while the stream is open
    qtbot.waitUntil(lambda: service_saw(
        tiny, "sample_rate=16000&language=en&vad_threshold=0.65&end_silence_ms=1200"),
        timeout=10000)
    stop_listening(qtbot, w)

    # The Settings window saved new values: the next Start uses them.
    w.apply_settings(replace(SettingsStore().load(), language="", vad_threshold=0.4,
                             end_silence_ms=800, captions_font_size=30))
    assert w.language_box.currentData() == ""
    assert w.font_size.value() != 30              # the window's own values are its own
    start_listening(qtbot, w)
    qtbot.waitUntil(lambda: service_saw(
        tiny, "sample_rate=16000&vad_threshold=0.4&end_silence_ms=800"), timeout=10000)
    stop_listening(qtbot, w)


def test_mandarin_into_tiny_en_shows_the_notice_once(qtbot, tiny, open_windows, mic, tmp_path):
    w = open_windows(tiny.url)
    asked = []
    w.models_requested.connect(lambda: asked.append(True))
    w.show()
    pick_pulse(qtbot, w)
    start_listening(qtbot, w)
    assert not w.notice_bar.isVisible()
    pcm = GAP
    for i, text in enumerate(MANDARIN):
        pcm += read_wav(speech.speak(tmp_path / f"cmn{i}.wav", text, "cmn", 150)) + GAP
    mic.say(pcm)
    qtbot.waitUntil(w.notice_bar.isVisible, timeout=90000)
    shown = w.notice_text.text()
    assert "does not sound like English" in shown and "tiny.en" in shown, shown
    assert "base" in shown and "Settings" in shown, shown
    assert w.is_listening()                       # information, not an error: captions go on
    assert w.notice_models_button.isVisible()     # someone listens for models_requested
    qtbot.mouseClick(w.notice_models_button, Qt.LeftButton)
    assert asked == [True]
    stop_listening(qtbot, w)

    # Hidden by the person, it stays hidden: the next stream's notice is not news.
    w.notice_bar.hide()
    w.live.on_notice(None, {"type": "notice", "code": "not_english", "message": "again"})
    assert not w.notice_bar.isVisible()


def test_a_notice_without_a_listener_has_no_button(qtbot):
    w = new_window(qtbot)
    w.show()
    w.live.on_notice(None, {"type": "notice", "code": "not_english", "message":
                            "This does not sound like English, and the loaded model (tiny.en) "
                            "only knows English. Choose ..."})
    assert w.notice_bar.isVisible() and not w.notice_models_button.isVisible()
    assert "(tiny.en)" in w.notice_text.text()   # the model named in the service's own words
    w.live.on_notice(None, {"type": "notice", "code": "something_new", "message": "News."})
    assert w.notice_text.text() == "News."       # a code we do not know: its own sentence
    listed(qtbot, w)
