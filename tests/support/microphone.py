"""The virtual microphone of shared/TESTING.md, fed from a test: PulseAudio
with a FIFO source (started by packaging/dev.py test), written in real time."""
from __future__ import annotations

import fcntl
import os
import queue
import threading
import time

import pytest

RATE = 16000
CHUNK = 1600 * 2            # 0.1 s of s16le mono
F_SETPIPE_SZ = 1031


def need_mic() -> str:
    """The FIFO path, or skip (fail on CI) with a reason."""
    fifo = os.environ.get("ASR_TRAY_TEST_MIC_FIFO")
    if fifo and os.path.exists(fifo) and os.environ.get("XDG_RUNTIME_DIR"):
        return fifo
    why = ("needs the virtual microphone: ASR_TRAY_TEST_MIC_FIFO and XDG_RUNTIME_DIR of a "
           "PulseAudio with a FIFO source (run `python packaging/dev.py test`, which starts it)")
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


class MicWriter(threading.Thread):
    """Feeds the FIFO in real time: queued speech, and silence whenever
    nothing is queued, because PulseAudio's pipe source only advances while
    data arrives."""

    def __init__(self, fifo: str, rate: int = RATE, channels: int = 1):
        super().__init__(name=f"mic-writer-{rate}", daemon=True)
        self.fifo = fifo
        self.rate = rate
        self.frame = 2 * channels                  # bytes per s16le frame
        self.chunk = CHUNK if (rate, channels) == (RATE, 1) else self.frame * rate // 20
        self.q: queue.Queue = queue.Queue()
        self.halt = threading.Event()
        self.spoken = threading.Event()   # set when the last queued audio was written
        self.error: Exception | None = None

    def say(self, pcm: bytes) -> None:
        self.spoken.clear()
        assert len(pcm) % self.frame == 0
        for i in range(0, len(pcm), self.chunk):
            self.q.put(pcm[i:i + self.chunk])

    def hush(self) -> None:
        """Drop whatever is still queued."""
        with self.q.mutex:
            self.q.queue.clear()

    def run(self) -> None:
        try:
            fd = os.open(self.fifo, os.O_WRONLY)
        except OSError as exc:
            self.error = exc
            return
        try:
            try:  # a small pipe: queued speech reaches the source without 2 s of silence ahead
                fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
            except OSError:
                pass
            silence = b"\0" * self.chunk
            # Paced in real time: the pipe source takes data as fast as it
            # comes, so an unpaced writer would be a microphone running at
            # many times real time.
            due = time.monotonic()
            while not self.halt.is_set():
                try:
                    data = self.q.get_nowait()
                except queue.Empty:
                    self.spoken.set()
                    data = silence
                os.write(fd, data)
                due += len(data) / self.frame / self.rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        except OSError as exc:
            self.error = exc
        finally:
            os.close(fd)

    def stop(self) -> None:
        self.halt.set()
        self.join(5)


@pytest.fixture
def mic():
    fifo = need_mic()
    writer = MicWriter(fifo)
    writer.start()
    yield writer
    writer.stop()
    assert writer.error is None, writer.error
