"""Extra PulseAudio devices for one test, on the PulseAudio that
packaging/dev.py's Desktop starts (shared/TESTING.md): pipe sources at any
rate and channel count, fed in real time, and null sinks whose monitor
records what `paplay` plays into them. Everything loaded is unloaded, and
every paplay ended, when the `with` block ends."""
from __future__ import annotations

import fcntl
import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path

from tests.support.microphone import F_SETPIPE_SZ, need_mic


def pactl(*args: str) -> str:
    out = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def _description(text: str) -> str:
    # modargs take a quoted value; the property inside it is quoted again
    return f"'device.description=\"{text}\"'"


class PipeSource(threading.Thread):
    """module-pipe-source at `rate` Hz, `channels` channels, s16le, fed from
    a thread in real time: queued audio, else silence (a pipe source only
    advances while data arrives)."""

    def __init__(self, rate: int, channels: int, description: str):
        need_mic()
        super().__init__(name=f"pipe-source-{rate}", daemon=True)
        self.rate, self.channels = rate, channels
        self.name = f"asrtest_{rate}_{channels}ch_{uuid.uuid4().hex[:6]}"
        self.fifo = str(Path(os.environ["XDG_RUNTIME_DIR"]) / f"{self.name}.fifo")
        self.module = pactl("load-module", "module-pipe-source", f"source_name={self.name}",
                            f"file={self.fifo}", "format=s16le", f"rate={rate}",
                            f"channels={channels}",
                            f"source_properties={_description(description)}")
        self.frame = 2 * channels
        self.chunk = self.frame * rate // 20            # 50 ms
        self.q: queue.Queue = queue.Queue()
        self.halt = threading.Event()
        self.error: Exception | None = None

    def say(self, pcm: bytes) -> None:
        """Queue interleaved s16le frames at this source's format."""
        assert len(pcm) % self.frame == 0
        for i in range(0, len(pcm), self.chunk):
            self.q.put(pcm[i:i + self.chunk])

    def spoken(self) -> bool:
        """Everything queued has been written."""
        return self.q.unfinished_tasks == 0

    def run(self) -> None:
        try:
            fd = os.open(self.fifo, os.O_WRONLY)
        except OSError as exc:
            self.error = exc
            return
        try:
            try:
                fcntl.fcntl(fd, F_SETPIPE_SZ, 4096)
            except OSError:
                pass
            silence = b"\0" * self.chunk
            due = time.monotonic()
            while not self.halt.is_set():
                try:
                    data = self.q.get_nowait()
                except queue.Empty:
                    data = None
                block = data or silence
                os.write(fd, block)
                if data is not None:
                    self.q.task_done()
                due += len(block) / self.frame / self.rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
        except OSError as exc:
            self.error = exc
        finally:
            os.close(fd)

    def __enter__(self) -> "PipeSource":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        self.join(5)
        pactl("unload-module", self.module)
        assert self.error is None, self.error


class NullSink:
    """module-null-sink `name`: what is played into it comes out of its
    monitor source `name.monitor`, in real time (the sink keeps its own clock)."""

    def __init__(self, description: str):
        need_mic()
        self.name = f"asrtest_sink_{uuid.uuid4().hex[:6]}"
        self.description = description
        self.module = pactl("load-module", "module-null-sink", f"sink_name={self.name}",
                            f"sink_properties={_description(description)}")
        self.players: list[subprocess.Popen] = []

    @property
    def monitor(self) -> str:
        return f"{self.name}.monitor"

    def play(self, wav: Path) -> subprocess.Popen:
        """paplay the file into this sink; returns at once."""
        proc = subprocess.Popen(["paplay", f"--device={self.name}", str(wav)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.players.append(proc)
        return proc

    def __enter__(self) -> "NullSink":
        return self

    def __exit__(self, *exc) -> None:
        for p in self.players:
            if p.poll() is None:
                p.terminate()
            p.wait(5)
        pactl("unload-module", self.module)

