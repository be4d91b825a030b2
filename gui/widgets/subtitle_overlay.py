"""The subtitle overlay: a frameless, translucent strip on top of every
window that shows the last two caption lines, so a person can follow a
meeting or a video without the captions window in the way.

Public interface (the captions window owns it and feeds it):
    SubtitleOverlay(store: SettingsStore, font_size: int = 21)
    add_line(text)         a finished line (empty text: the partial only ends)
    set_partial(text)      the words of the utterance being said now ("": none)
    clear()
    lines() -> list[str]   what it shows: the last two lines, the partial newest
    set_font_size(points)
    show_here()            shown where it was last time, else at the bottom
                           centre of `screen`
    hidden_by_user = Signal()   its context menu's "Hide the subtitle overlay"

It never takes the focus (WindowDoesNotAcceptFocus, WA_ShowWithoutActivating):
typing goes on in the window below it. It moves when dragged anywhere and
resizes when dragged by an edge or a corner (on Wayland, where a window may
not place itself, the compositor does both). Its geometry is remembered as
"overlay" among the window geometries (gui/settings/store.py), shortly after
a move or resize and when it hides.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QMenu, QWidget

from gui.settings.store import SettingsStore

GEOMETRY_NAME = "overlay"     # its key among the remembered window geometries
GEOMETRY_SAVE_MS = 500        # after the last move or resize
EDGE = 8                      # pixels from an edge where a drag resizes instead of moving
PAD = 14                      # text inset from the panel's edge
RADIUS = 10
MIN_SIZE = QSize(220, 48)
PANEL = QColor(0, 0, 0, 170)              # dark, and the video behind still shows
TEXT = QColor(255, 255, 255)
PARTIAL = QColor(255, 255, 255, 190)      # the words still being said: a little dimmer
HINT = QColor(255, 255, 255, 140)
BOTTOM_GAP = 48               # first placement: this far above the screen's bottom
WIDTH_SHARE = 0.6             # first placement: this share of the screen's width

_CURSORS = {  # what the pointer looks like over each edge or corner
    Qt.Edge.LeftEdge: Qt.CursorShape.SizeHorCursor,
    Qt.Edge.RightEdge: Qt.CursorShape.SizeHorCursor,
    Qt.Edge.TopEdge: Qt.CursorShape.SizeVerCursor,
    Qt.Edge.BottomEdge: Qt.CursorShape.SizeVerCursor,
    Qt.Edge.LeftEdge | Qt.Edge.TopEdge: Qt.CursorShape.SizeFDiagCursor,
    Qt.Edge.RightEdge | Qt.Edge.BottomEdge: Qt.CursorShape.SizeFDiagCursor,
    Qt.Edge.RightEdge | Qt.Edge.TopEdge: Qt.CursorShape.SizeBDiagCursor,
    Qt.Edge.LeftEdge | Qt.Edge.BottomEdge: Qt.CursorShape.SizeBDiagCursor,
}
NO_EDGE = Qt.Edge(0)


class SubtitleOverlay(QWidget):
    hidden_by_user = Signal()

    def __init__(self, store: SettingsStore, font_size: int = 21):
        # No parent: a window manager minimises a child window with its
        # parent, and the overlay is for when the captions window is out of the way.
        super().__init__(None, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint
                         | Qt.WindowType.WindowDoesNotAcceptFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setMouseTracking(True)   # the resize cursors over the edges
        self.setMinimumSize(MIN_SIZE)
        self.setWindowTitle(self.tr("Live captions"))
        self.store = store
        self._finished: list[str] = []   # the last two finished lines
        self._partial = ""
        self._drag: QPoint | None = None                  # the pointer's offset in the window
        self._resize: tuple[Qt.Edge, QPoint, QRect] | None = None   # edges, press point, start
        self._placed = False
        self._geometry_timer = QTimer(self)
        self._geometry_timer.setSingleShot(True)
        self._geometry_timer.setInterval(GEOMETRY_SAVE_MS)
        self._geometry_timer.timeout.connect(self.remember_geometry)
        self.set_font_size(font_size)

    # ------------------------------------------------------------ the text
    def add_line(self, text: str) -> None:
        self._partial = ""
        text = text.strip()
        if text:
            self._finished = (self._finished + [text])[-2:]
        self.update()

    def set_partial(self, text: str) -> None:
        self._partial = text.strip()
        self.update()

    def clear(self) -> None:
        self._finished, self._partial = [], ""
        self.update()

    def lines(self) -> list[str]:
        return (self._finished + ([self._partial] if self._partial else []))[-2:]

    def set_font_size(self, points: int) -> None:
        font = QFont(self.font())
        font.setPointSize(max(6, int(points)))
        font.setWeight(QFont.Weight.DemiBold)   # reads better over a moving picture
        self.setFont(font)
        self.update()

    # ------------------------------------------------------------ placement
    def show_here(self, screen=None) -> None:
        """Shown where it was last time, or at the bottom centre of `screen`
        (the primary screen when None) the first time."""
        if not self._placed:
            saved = self.store.geometry(GEOMETRY_NAME)
            if not (saved and self.restoreGeometry(QByteArray(saved))):
                self.setGeometry(self._first_place(screen))
            self._placed = True
        self.show()

    def _first_place(self, screen) -> QRect:
        screen = screen or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        height = max(MIN_SIZE.height(), 2 * self.fontMetrics().lineSpacing() + PAD)
        width = max(MIN_SIZE.width(), int(area.width() * WIDTH_SHARE))
        return QRect(area.left() + (area.width() - width) // 2,
                     area.bottom() - BOTTOM_GAP - height, width, height)

    def remember_geometry(self) -> None:
        self._geometry_timer.stop()
        if self._placed:
            self.store.remember_geometry(GEOMETRY_NAME, bytes(self.saveGeometry()))

    # ------------------------------------------------------------ drawing
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(PANEL)
        p.drawRoundedRect(self.rect(), RADIUS, RADIUS)
        self._paint_grip(p)
        area = self.rect().adjusted(PAD, PAD // 2, -PAD, -PAD // 2)
        p.setClipRect(area)
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom) \
            | int(Qt.TextFlag.TextWordWrap)
        lines = self.lines()
        if not lines:
            p.setPen(HINT)
            p.drawText(area, int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap),
                       self.tr("Live captions appear here."))
            return
        # The newest line at the bottom, whole; the one before it above, cut
        # at the top when both do not fit (as subtitles scroll up).
        newest_is_partial = bool(self._partial) and lines[-1] == self._partial
        font = QFont(self.font())
        font.setItalic(newest_is_partial)
        p.setFont(font)
        height = p.boundingRect(area, flags, lines[-1]).height()
        newest = QRect(area.left(), area.bottom() - height + 1, area.width(), height)
        p.setPen(PARTIAL if newest_is_partial else TEXT)
        p.drawText(newest, flags, lines[-1])
        if len(lines) == 2 and newest.top() > area.top():
            p.setFont(self.font())
            p.setPen(TEXT)
            p.drawText(QRect(area.left(), area.top(), area.width(), newest.top() - area.top()),
                       flags, lines[0])

    def _paint_grip(self, p: QPainter) -> None:
        """Three short diagonals in the bottom-right corner: it can be resized."""
        p.save()
        p.setPen(QPen(HINT, 1.2))
        r = self.rect().adjusted(0, 0, -4, -4)
        for i in (4, 8, 12):
            p.drawLine(r.right() - i, r.bottom(), r.right(), r.bottom() - i)
        p.restore()

    # ------------------------------------------------------------ moving and resizing
    def _edges_at(self, pos: QPoint) -> Qt.Edge:
        edges = NO_EDGE
        if pos.x() < EDGE:
            edges |= Qt.Edge.LeftEdge
        elif pos.x() >= self.width() - EDGE:
            edges |= Qt.Edge.RightEdge
        if pos.y() < EDGE:
            edges |= Qt.Edge.TopEdge
        elif pos.y() >= self.height() - EDGE:
            edges |= Qt.Edge.BottomEdge
        return edges

    @staticmethod
    def _placed_by_compositor() -> bool:
        """Wayland lets no window move itself: the compositor moves it on request."""
        return QGuiApplication.platformName().startswith("wayland")

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        edges = self._edges_at(event.position().toPoint())
        handle = self.windowHandle()
        if self._placed_by_compositor() and handle is not None:
            if edges != NO_EDGE:
                handle.startSystemResize(edges)
            else:
                handle.startSystemMove()
        elif edges != NO_EDGE:
            self._resize = (edges, event.globalPosition().toPoint(), self.geometry())
        else:
            self._drag = event.globalPosition().toPoint() - self.pos()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        where = event.globalPosition().toPoint()
        if self._drag is not None:
            self.move(where - self._drag)
        elif self._resize is not None:
            self.setGeometry(self._resized(*self._resize, where))
        else:
            edges = self._edges_at(event.position().toPoint())
            self.setCursor(_CURSORS.get(edges, Qt.CursorShape.OpenHandCursor))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = self._resize = None
            self.setCursor(_CURSORS.get(self._edges_at(event.position().toPoint()),
                                        Qt.CursorShape.OpenHandCursor))
        event.accept()

    def _resized(self, edges: Qt.Edge, pressed: QPoint, start: QRect, now: QPoint) -> QRect:
        """`start` with the dragged edges moved by the pointer, never under the minimum size."""
        dx, dy = now.x() - pressed.x(), now.y() - pressed.y()
        left, top, right, bottom = start.left(), start.top(), start.right(), start.bottom()
        min_w, min_h = self.minimumWidth(), self.minimumHeight()
        if edges & Qt.Edge.LeftEdge:
            left = min(left + dx, right - min_w + 1)
        if edges & Qt.Edge.RightEdge:
            right = max(right + dx, left + min_w - 1)
        if edges & Qt.Edge.TopEdge:
            top = min(top + dy, bottom - min_h + 1)
        if edges & Qt.Edge.BottomEdge:
            bottom = max(bottom + dy, top + min_h - 1)
        return QRect(QPoint(left, top), QPoint(right, bottom))

    def contextMenuEvent(self, event) -> None:
        menu = QMenu(self)
        menu.addAction(self.tr("Hide the subtitle overlay"), self._hide_by_user)
        menu.popup(event.globalPos())   # not exec(): captions keep coming meanwhile

    def _hide_by_user(self) -> None:
        self.hide()
        self.hidden_by_user.emit()

    # ------------------------------------------------------------ remembering where it is
    def moveEvent(self, event) -> None:
        super().moveEvent(event)
        if self.isVisible():
            self._geometry_timer.start()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._geometry_timer.start()

    def hideEvent(self, event) -> None:
        self._drag = self._resize = None
        self.remember_geometry()
        super().hideEvent(event)
