"""Extra PulseAudio devices for one test, on the PulseAudio that
packaging/dev.py's Desktop starts (shared/TESTING.md): pipe sources at any
rate and channel count, fed in real time, and null sinks whose monitor
records what `paplay` plays into them. Everything loaded is unloaded, and
every paplay ended, when the `with` block ends."""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from tests.support.microphone import MicWriter, need_mic


def pactl(*args: str) -> str:
    out = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def _description(text: str) -> str:
    # modargs take a quoted value; the property inside it is quoted again
    return f"'device.description=\"{text}\"'"


class PipeSource:
    """module-pipe-source at `rate` Hz, `channels` channels, s16le, fed in
    real time by the virtual microphone's writer (queued audio, else silence)."""

    def __init__(self, rate: int, channels: int, description: str):
        need_mic()
        self.rate, self.channels = rate, channels
        self.name = f"asrtest_{rate}_{channels}ch_{uuid.uuid4().hex[:6]}"
        fifo = str(Path(os.environ["XDG_RUNTIME_DIR"]) / f"{self.name}.fifo")
        self.module = pactl("load-module", "module-pipe-source", f"source_name={self.name}",
                            f"file={fifo}", "format=s16le", f"rate={rate}",
                            f"channels={channels}",
                            f"source_properties={_description(description)}")
        self.writer = MicWriter(fifo, rate, channels)

    def say(self, pcm: bytes) -> None:
        """Queue interleaved s16le frames at this source's format."""
        self.writer.say(pcm)

    def spoken(self) -> bool:
        """Everything queued has been written."""
        return self.writer.spoken.is_set()

    def __enter__(self) -> "PipeSource":
        self.writer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.writer.stop()
        pactl("unload-module", self.module)
        assert self.writer.error is None, self.writer.error


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

