"""One tray per user: the first one listens on a local socket; a second one
sends it "show" (bring the Status window forward) and exits.

The name derives from the runtime directory, so runs with separate runtime
dirs (tests) never see each other, while all trays of one user share it.
A lock file decides who is first even when two start at the same instant;
QLockFile notices a stale lock left by a killed tray (its pid is gone).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from service.safety import registry

log = logging.getLogger("asr.tray.single")

CONNECT_WAIT_MS = 300
FIRST_STARTING_WAIT_S = 3.0   # the first tray holds the lock but may not listen yet


def server_name() -> str:
    where = str(registry.runtime_dir().resolve())
    user = os.environ.get("USER") or os.environ.get("USERNAME") or str(os.getuid() if hasattr(os, "getuid") else "")
    digest = hashlib.sha1(f"{user}\0{where}".encode()).hexdigest()[:16]
    return f"asr-tray-{digest}"


def send(message: str, name: str | None = None, wait_s: float = FIRST_STARTING_WAIT_S) -> bool:
    """Deliver one line to the running tray. Blocking: for start-up and tools, never the UI."""
    name = name or server_name()
    deadline = time.monotonic() + wait_s
    while True:
        sock = QLocalSocket()
        sock.connectToServer(name)
        if sock.waitForConnected(CONNECT_WAIT_MS):
            sock.write((message + "\n").encode())
            ok = sock.waitForBytesWritten(1000)
            sock.disconnectFromServer()
            return ok
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def holder_is_a_tray(pid: int) -> bool:
    import psutil

    from service.safety import markers
    from service.safety.processes import read_markers

    try:
        m = read_markers(psutil.Process(pid))
    except psutil.Error:
        return False
    if m is None:
        return False
    return m.role == "tray" and m.runtime_dir == os.environ.get(markers.RUNTIME_DIR)


class SingleInstance(QObject):
    message = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.name = server_name()
        self.lock = QLockFile(str(registry.runtime_dir() / "tray.lock"))
        self.lock.setStaleLockTime(0)  # stale only when its pid is gone, never by age
        self.server: QLocalServer | None = None
        self._clients: set[QLocalSocket] = set()

    def claim(self) -> bool:
        """True: we are the first; listen. False: another tray runs."""
        if not self.lock.tryLock(0):
            return False
        QLocalServer.removeServer(self.name)  # a socket file left by a killed tray
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(self.name):
            log.warning("cannot listen on %s: %s", self.name, self.server.errorString())
        self.server.newConnection.connect(self._on_connection)
        return True

    def take_over_if_stale(self) -> bool:
        """The lock is held but nobody answers. QLockFile calls a lock live when
        its pid runs a program of the same name (any python), and the lock
        lives in a state dir that survives reboots, where pids are reused. So
        ask our own markers: only a live process with ASR_TRAY_ROLE=tray of our
        runtime dir holds the lock for real. Returns True when we claimed it."""
        info = self.lock.getLockInfo()  # PySide6: (pid, hostname, appname), or False
        pid = info[0] if isinstance(info, tuple) and info else 0
        if pid and holder_is_a_tray(pid):
            return False
        log.warning("the tray lock names pid %s, which is no tray: taking the lock over", pid)
        self.lock.removeStaleLockFile()
        return self.claim()

    def release(self) -> None:
        for sock in list(self._clients):
            self._drop(sock)
        if self.server is not None:
            self.server.close()
        self.lock.unlock()

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._clients.add(sock)
            sock.readyRead.connect(self._on_ready_read)
            sock.disconnected.connect(self._on_disconnected)
            self._read(sock)  # the line may have arrived with the connection

    def _on_ready_read(self) -> None:
        sock = self.sender()
        if sock in self._clients:
            self._read(sock)

    def _on_disconnected(self) -> None:
        sock = self.sender()
        if sock in self._clients:
            self._read(sock)
            self._drop(sock)

    def _drop(self, sock: QLocalSocket) -> None:
        self._clients.discard(sock)
        sock.readyRead.disconnect(self._on_ready_read)
        sock.disconnected.disconnect(self._on_disconnected)
        sock.abort()
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        while sock.canReadLine():
            line = bytes(sock.readLine()).decode(errors="replace").strip()
            if line:
                self.message.emit(line)
