"""The captions window's display and session tools, driven through its
LiveCaptions controller with protocol events (the audio path itself is in
test_captions_e2e.py)."""
from __future__ import annotations

import os
import re
from types import SimpleNamespace

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


@pytest.fixture
def window(qtbot):
    from gui.widgets.captions_window import CaptionsWindow

    w = CaptionsWindow(service_url=lambda: None)
    qtbot.addWidget(w)
    w.resize(500, 300)
    w.show()
    qtbot.waitUntil(lambda: not w.live.is_listing(), timeout=10000)  # the device scan is done
    return w


class FakeStream:
    """Stands in for a StreamClient: the controller only asks when its audio began."""

    def __init__(self, began: float):
        self.source = SimpleNamespace(started_at=began)


def partial(w, client, text, start, end):
    # The controller passes on partials of the stream that is listening (or
    # flushing) only, which a stand-in is not: the window gets what it would.
    w.live.partial.emit(text)


def say(w, client, start, end, text, partial_words=2):
    words = text.split()
    for n in range(1, min(partial_words, len(words)) + 1):
        partial(w, client, " ".join(words[:n]), start, start + 0.5 * n)
    w.live.on_final(client, {"type": "final", "text": text, "start": start, "end": end})


def char_format_at(w, pos):
    cursor = QTextCursor(w.view.document())
    cursor.setPosition(pos + 1)
    return cursor.charFormat()


def test_partial_is_distinct_and_replaced_by_the_final(window):
    w = window
    c = FakeStream(100.0)
    say(w, c, 0.5, 2.0, "Hello there.")
    partial(w, c, "How are", 3.0, 3.5)
    text = w.view.toPlainText()
    assert text.splitlines() == ["Hello there.", "How are"], text   # newest at the bottom
    assert w.view.partial_text() == "How are"
    assert w.view.final_text() == "Hello there."
    final_fmt = char_format_at(w, 0)
    partial_fmt = char_format_at(w, text.index("How"))
    assert partial_fmt.fontItalic() and not final_fmt.fontItalic()
    assert partial_fmt.foreground().color() != final_fmt.foreground().color()
    w.live.on_final(c, {"type": "final", "text": "How are you?", "start": 3.0, "end": 4.2})
    assert w.view.toPlainText().splitlines() == ["Hello there.", "How are you?"]
    assert w.view.partial_text() == ""
    assert not char_format_at(w, w.view.toPlainText().index("How")).fontItalic()


def test_an_empty_final_clears_the_partial(window):
    w = window
    c = FakeStream(0.0)
    partial(w, c, "uh", 0.0, 0.4)
    w.live.on_final(c, {"type": "final", "text": "", "start": 0.0, "end": 0.5})
    assert w.view.toPlainText() == "" and w.live.session.segments == []


def test_follows_the_newest_line_unless_scrolled_up(window, qtbot):
    w = window
    c = FakeStream(0.0)
    for i in range(60):
        say(w, c, i * 2.0, i * 2.0 + 1.5, f"Line number {i} of a long session.", partial_words=0)
    bar = w.view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    bar.setValue(bar.maximum() // 3)                       # the user scrolls up to read
    kept = bar.value()
    say(w, c, 200.0, 201.0, "Something new.")
    partial(w, c, "And more", 202.0, 202.5)
    assert bar.value() == kept
    bar.setValue(bar.maximum())                             # back at the bottom: follow again
    say(w, c, 203.0, 204.0, "Newest line.")
    assert bar.value() == bar.maximum()


def test_font_size_on_top_copy_and_clear(window):
    w = window
    w.font_size.setValue(22)
    assert w.view.font().pointSize() == 22
    w.set_always_on_top(True)
    assert w.windowFlags() & Qt.WindowStaysOnTopHint and w.on_top.isChecked()
    w.on_top.setChecked(False)
    assert not w.windowFlags() & Qt.WindowStaysOnTopHint
    c = FakeStream(0.0)
    say(w, c, 0.0, 1.0, "First line.")
    say(w, c, 2.0, 3.0, "Second line.")
    partial(w, c, "unfinished", 4.0, 4.5)
    assert w.copy() == "First line.\nSecond line."
    assert QApplication.clipboard().text() == "First line.\nSecond line."
    cursor = w.view.textCursor()
    cursor.setPosition(0)
    cursor.setPosition(5, QTextCursor.KeepAnchor)
    w.view.setTextCursor(cursor)
    assert w.copy() == "First"                              # a selection wins
    w.clear()
    assert w.view.toPlainText() == "" and w.live.session.segments == []


def test_export_keeps_one_timeline_over_stop_and_start(window, tmp_path):
    w = window
    first, second = FakeStream(1000.0), FakeStream(1010.0)   # the second stream began 10 s later
    say(w, first, 0.5, 2.25, "Good morning everyone.")
    say(w, first, 3.0, 4.5, "Let us begin.")
    say(w, second, 1.0, 2.5, "Welcome back.")
    srt = w.export(tmp_path / "a.srt", "srt").read_text()
    assert srt == ("1\n00:00:00,500 --> 00:00:02,250\nGood morning everyone.\n\n"
                   "2\n00:00:03,000 --> 00:00:04,500\nLet us begin.\n\n"
                   "3\n00:00:11,000 --> 00:00:12,500\nWelcome back.\n")
    vtt = w.export(tmp_path / "a.vtt", "vtt").read_text()
    assert vtt.startswith("WEBVTT\n")
    assert re.findall(r"(\S+) --> (\S+)", vtt) == [("00:00:00.500", "00:00:02.250"),
                                                   ("00:00:03.000", "00:00:04.500"),
                                                   ("00:00:11.000", "00:00:12.500")]
    txt = w.export(tmp_path / "a.txt", "TXT").read_text()
    assert txt == "Good morning everyone.\nLet us begin.\nWelcome back.\n"
    with pytest.raises(ValueError):
        w.export(tmp_path / "a.doc", "doc")


def test_long_monologue_hours_in_stamps(window, tmp_path):
    w = window
    c = FakeStream(0.0)
    say(w, c, 3725.25, 3730.0, "An hour in.", partial_words=0)
    assert "01:02:05,250 --> 01:02:10,000" in w.export(tmp_path / "h.srt", "srt").read_text()


def test_partials_of_a_stream_that_is_not_listening_are_not_shown(window):
    w = window
    shown = []
    w.live.partial.connect(shown.append)
    stray = {"type": "partial", "text": "stray", "start": 0.0, "end": 0.4}
    w.live.on_partial(FakeStream(0.0), stray)
    assert shown == [] and w.view.toPlainText() == ""
    assert w.live.is_idle() and not w.is_listening()
