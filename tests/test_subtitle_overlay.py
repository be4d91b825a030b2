"""The subtitle overlay (gui/widgets/subtitle_overlay.py), toggled from the
captions window on a real X server (Xvfb, no window manager): a frameless,
translucent, always-on-top tool window with the last two lines, moved by a
drag anywhere, resized by a drag at its corner or edge, placed at the bottom
centre the first time and where it was after that, hidden with the captions
window, and never taking the focus."""
from __future__ import annotations

import os
from types import SimpleNamespace

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QContextMenuEvent, QGuiApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QMenu  # noqa: E402

from gui.settings.store import SettingsStore  # noqa: E402


class FakeStream:
    """What the controller asks of a stream for a final: when its audio began."""
    source = SimpleNamespace(started_at=0.0)


def new_window(qtbot):
    from gui.widgets.captions_window import CaptionsWindow

    w = CaptionsWindow(service_url=lambda: None)
    qtbot.addWidget(w)
    w.resize(600, 320)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: not w.live.is_listing(), timeout=10000)
    return w


def final(w, text, start):
    w.live.on_final(FakeStream(), {"type": "final", "text": text, "start": start,
                                   "end": start + 1.0})


def overlay_on(qtbot, w):
    w.overlay_box.setChecked(True)
    qtbot.waitExposed(w.overlay)
    return w.overlay


def near(a, b, slack=4) -> bool:
    return abs(a - b) <= slack


def drag(widget, start: QPoint, end: QPoint, steps: int = 4) -> None:
    """A press at `start` and a pointer that moves to `end` (both in the
    widget as it was at the press) in `steps`: each event is placed where the
    pointer is on the screen, as a real one would be while the widget moves."""
    pressed = widget.mapToGlobal(start)
    QTest.mousePress(widget, Qt.LeftButton, Qt.NoModifier, start)
    for i in range(1, steps + 1):
        at = pressed + (end - start) * (i / steps)
        QTest.mouseMove(widget, widget.mapFromGlobal(at))
    QTest.mouseRelease(widget, Qt.LeftButton, Qt.NoModifier,
                       widget.mapFromGlobal(pressed + (end - start)))


def test_toggle_shows_a_frameless_translucent_strip_with_the_last_two_lines(qtbot):
    w = new_window(qtbot)
    for i, text in enumerate(["One.", "Two.", "Three."]):
        final(w, text, i * 2.0)
    overlay = overlay_on(qtbot, w)
    assert w.overlay_box.text() == "Subtitle overlay"
    flags = overlay.windowFlags()
    for flag in (Qt.FramelessWindowHint, Qt.WindowStaysOnTopHint, Qt.WindowDoesNotAcceptFocus):
        assert flags & flag, flag
    assert flags & Qt.WindowType_Mask == Qt.Tool
    assert overlay.testAttribute(Qt.WA_TranslucentBackground)
    assert overlay.lines() == ["Two.", "Three."]
    w.live.partial.emit("And four")                     # the partial is the newest line
    assert overlay.lines() == ["Three.", "And four"]
    final(w, "And four more.", 6.0)
    assert overlay.lines() == ["Three.", "And four more."]
    final(w, "", 8.0)                                   # no words: the lines stay
    assert overlay.lines() == ["Three.", "And four more."]
    snap = w.snapshot()["overlay"]
    g = overlay.geometry()
    assert snap == {"visible": True, "lines": ["Three.", "And four more."],
                    "geometry": [g.x(), g.y(), g.width(), g.height()]}

    # First time: at the bottom centre of the screen
    area = (w.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    assert near(g.center().x(), area.center().x(), 2)
    assert area.center().y() < g.top() and g.bottom() <= area.bottom()

    # A rounded, semi-transparent dark panel with white text on it
    image = overlay.grab().toImage()
    assert image.pixelColor(0, 0).alpha() == 0          # outside the rounded corner
    panel = image.pixelColor(image.width() // 2, 2)
    assert 100 <= panel.alpha() <= 230 and panel.lightness() < 60, panel.name()
    white = sum(1 for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)
                if image.pixelColor(x, y).lightness() > 200)
    assert white > 20, "no text drawn"

    # Text size follows the window's, larger
    w.font_size.setValue(20)
    assert overlay.font().pointSize() == 30
    w.overlay_box.setChecked(False)
    assert not overlay.isVisible() and w.snapshot()["overlay"]["geometry"] is None


def test_dragged_anywhere_it_moves_and_at_the_corner_it_grows(qtbot):
    w = new_window(qtbot)
    overlay = overlay_on(qtbot, w)
    overlay.setGeometry(200, 500, 500, 90)
    qtbot.waitUntil(lambda: near(overlay.x(), 200) and near(overlay.width(), 500), timeout=5000)
    start = overlay.geometry()
    drag(overlay, QPoint(250, 45), QPoint(190, 15))     # inside, away from the edges
    qtbot.waitUntil(lambda: overlay.pos() == start.topLeft() + QPoint(-60, -30), timeout=5000)
    assert overlay.size() == start.size()

    moved = overlay.geometry()
    corner = QPoint(moved.width() - 3, moved.height() - 3)
    drag(overlay, corner, corner + QPoint(80, 40))
    qtbot.waitUntil(lambda: overlay.width() == moved.width() + 80
                    and overlay.height() == moved.height() + 40, timeout=5000)
    assert overlay.pos() == moved.topLeft()

    grown = overlay.geometry()                          # the left edge: wider to the left
    drag(overlay, QPoint(2, grown.height() // 2), QPoint(-48, grown.height() // 2))
    qtbot.waitUntil(lambda: overlay.x() == grown.x() - 50
                    and overlay.width() == grown.width() + 50, timeout=5000)
    assert overlay.height() == grown.height()

    # Never under its minimum, however far it is dragged
    now = overlay.geometry()
    corner = QPoint(now.width() - 3, now.height() - 3)
    drag(overlay, corner, corner - QPoint(2000, 2000))
    qtbot.waitUntil(lambda: overlay.size() == overlay.minimumSize(), timeout=5000)


def test_geometry_is_remembered_and_it_goes_with_the_captions_window(qtbot):
    w = new_window(qtbot)
    overlay = overlay_on(qtbot, w)
    overlay.setGeometry(120, 420, 640, 110)
    qtbot.waitUntil(lambda: near(overlay.x(), 120) and near(overlay.height(), 110), timeout=5000)
    where = overlay.geometry()
    w.close()                                           # closing the captions hides it
    assert not overlay.isVisible() and not w.overlay_box.isChecked()
    assert SettingsStore().geometry("overlay") is not None

    again = new_window(qtbot)
    second = overlay_on(qtbot, again)
    qtbot.waitUntil(lambda: second.geometry() == where, timeout=5000)


def test_it_never_takes_the_focus(qtbot):
    w = new_window(qtbot)
    w.activateWindow()
    w.raise_()
    if not QGuiApplication.platformName().startswith("xcb"):
        pytest.skip("focus needs a real window system (Xvfb)")
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    overlay = overlay_on(qtbot, w)
    assert overlay.testAttribute(Qt.WA_ShowWithoutActivating)
    assert overlay.focusPolicy() == Qt.NoFocus
    drag(overlay, QPoint(100, 30), QPoint(140, 30))     # used, and still not focused
    qtbot.wait(200)                                     # X delivers focus events late
    assert w.isActiveWindow() and not overlay.isActiveWindow()
    assert QApplication.activeWindow() is w
    assert QGuiApplication.focusWindow() is not overlay.windowHandle()


def test_its_menu_hides_it_and_unticks_the_box(qtbot):
    w = new_window(qtbot)
    overlay = overlay_on(qtbot, w)
    overlay.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Mouse, QPoint(10, 10),
                                               overlay.mapToGlobal(QPoint(10, 10))))
    menu = overlay.findChild(QMenu)
    assert menu is not None
    hide = next(a for a in menu.actions() if a.text() == "Hide the subtitle overlay")
    hide.trigger()
    menu.close()
    assert not overlay.isVisible() and not w.overlay_box.isChecked()
