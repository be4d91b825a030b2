"""SIGTERM / SIGINT (and SIGHUP, SIGBREAK) delivered into the Qt event loop.

Python runs signal handlers only when the interpreter gets control, which
never happens while Qt's C++ loop sleeps. signal.set_wakeup_fd makes the
C-level handler write the signal number to a socket; a QSocketNotifier on
the other end wakes the loop, and the handler is called from the UI thread.
"""
from __future__ import annotations

import logging
import signal
import socket
from typing import Callable

from PySide6.QtCore import QObject, QSocketNotifier

log = logging.getLogger("asr.tray.signals")

QUIT_SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in
                                 ("SIGTERM", "SIGINT", "SIGHUP", "SIGBREAK")) if s is not None)


class SignalBridge(QObject):
    def __init__(self, on_signal: Callable[[int], None], parent: QObject | None = None):
        super().__init__(parent)
        self._on_signal = on_signal
        self._rsock, self._wsock = socket.socketpair()
        for s in (self._rsock, self._wsock):
            s.setblocking(False)
        signal.set_wakeup_fd(self._wsock.fileno(), warn_on_full_buffer=False)
        for sig in QUIT_SIGNALS:
            signal.signal(sig, lambda *_: None)  # a Python handler, so the wakeup fd is used
        self._notifier = QSocketNotifier(self._rsock.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)

    def _drain(self) -> None:
        try:
            data = self._rsock.recv(64)
        except OSError:
            return
        for signum in data:
            try:
                name = signal.Signals(signum).name
            except ValueError:
                name = str(signum)
            log.info("received %s", name)
            self._on_signal(signum)
