"""The last lines the service wrote to stderr, kept in memory.

The service and its worker write their own rotating logs (service.log,
worker.log in the log folder); their stderr repeats those lines, plus what
only stderr ever sees: a traceback before logging is set up, a native crash.
The tray keeps a bounded tail of it, never a file, so that the sentence shown
when the service dies can quote its last words and the tray's log can keep
them, and a service that runs for weeks costs the tray no disk.
"""
from __future__ import annotations

from collections import deque

MAX_LINES = 40
MAX_CHARS = 400          # per line: a runaway line (a progress bar, binary junk) stays small


class LineTail:
    def __init__(self, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS):
        self.max_chars = max_chars
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial = bytearray()     # a line whose newline has not arrived yet

    def feed(self, data: bytes) -> None:
        self._partial += data
        *complete, rest = self._partial.split(b"\n")
        for raw in complete:
            self._add(raw)
        # The start of an endless line is what tells what it is; drop the rest.
        self._partial = bytearray(rest[: self.max_chars * 4])

    def _add(self, raw: bytes) -> None:
        text = raw.decode(errors="replace").rstrip("\r")
        if text.strip():
            if len(text) > self.max_chars:
                text = text[: self.max_chars - 1] + "…"
            self._lines.append(text)

    def finish(self) -> None:
        """The stream ended: a last line without a newline counts too."""
        if self._partial:
            self._add(bytes(self._partial))
            self._partial.clear()

    def lines(self) -> list[str]:
        return list(self._lines)

    def last(self) -> str | None:
        return self._lines[-1] if self._lines else None

    def clear(self) -> None:
        self._lines.clear()
        self._partial.clear()
