"""gui/capture.py on the virtual microphone of shared/TESTING.md: PulseAudio with a
FIFO source, read through sounddevice's "pulse" device at its native 44.1 kHz.

Also home of MicWriter, the FIFO feeder the captions end-to-end tests use."""
from __future__ import annotations

import fcntl
import os
import queue
import threading
import time
import wave

import numpy as np
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


def wav_pcm(path) -> bytes:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        return w.readframes(w.getnframes())


class MicWriter(threading.Thread):
    """Feeds the FIFO in real time: queued speech, and silence whenever
    nothing is queued, because PulseAudio's pipe source only advances while
    data arrives."""

    def __init__(self, fifo: str):
        super().__init__(name="mic-writer", daemon=True)
        self.fifo = fifo
        self.q: queue.Queue = queue.Queue()
        self.halt = threading.Event()
        self.spoken = threading.Event()   # set when the last queued audio was written
        self.error: Exception | None = None

    def say(self, pcm: bytes) -> None:
        self.spoken.clear()
        for i in range(0, len(pcm), CHUNK):
            self.q.put(pcm[i:i + CHUNK])

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
            silence = b"\0" * CHUNK
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
                due += len(data) / 2 / RATE
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


# ------------------------------------------------------------------ tests
def test_device_list_names_people_recognise():
    need_mic()
    from gui.sources.capture import list_input_devices

    devices = list_input_devices(rescan=True)
    labels = [d.label for d in devices]
    assert len(labels) == len(set(labels)), labels
    assert sum(d.is_default for d in devices) == 1, devices
    assert devices[0].is_default
    assert "PulseAudio sound server" in labels, labels
    assert not any(lbl.startswith(("dmix", "sysdefault", "front:")) for lbl in labels), labels


def test_capture_converts_native_rate_to_16k_mono(mic):
    from gui.sources.capture import Capture, list_input_devices

    pulse = next(d for d in list_input_devices(rescan=True) if d.name == "pulse")
    assert pulse.rate != RATE, "the test is about a device that does not run at 16 kHz"
    t = np.arange(int(RATE * 4)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2").tobytes()
    cap = Capture()
    cap.start(pulse)
    try:
        mic.say(tone)
        got = bytearray()
        levels = []
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and len(got) < RATE * 2 * 3:
            got += cap.read(0.1)
            levels.append(cap.level)
    finally:
        cap.stop()
    x = np.frombuffer(bytes(got), "<i2").astype(np.float32)
    assert x.size >= RATE * 3, f"only {x.size / RATE:.2f} s of audio arrived"
    loud = np.flatnonzero(np.abs(x) > 3000)
    assert loud.size, "the tone never arrived"
    seg = x[loud[0] + RATE // 10: loud[0] + RATE // 10 + RATE // 2]   # 0.5 s inside the tone
    assert seg.size == RATE // 2, f"only {(x.size - loud[0]) / RATE:.2f} s of tone arrived"
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    peak_hz = np.argmax(spectrum) * RATE / seg.size
    assert abs(peak_hz - 1000) < 15, peak_hz
    assert 0.2 < np.sqrt(np.mean((seg / 32768) ** 2)) < 0.25
    assert max(levels) > 0.7       # -9 dBFS shows high on a -60..0 dB meter


def test_a_device_that_went_away_gives_a_sentence(mic):
    from gui.sources.capture import Capture, CaptureError, InputDevice

    ghost = InputDevice(key="ALSA|USB Headset", label="USB Headset", name="USB Headset",
                        hostapi="ALSA", index=99, channels=1, rate=48000.0, is_default=False)
    with pytest.raises(CaptureError) as err:
        Capture().start(ghost)
    assert "USB Headset" in str(err.value) and "pick another" in str(err.value)


def test_capture_stalls_are_reported_and_capture_resumes(mic):
    """A source that stops delivering (the device went away) is reported
    within seconds; the next start on a working device just works."""
    from gui.sources.capture import SILENT_DEVICE_S, Capture, CaptureError, list_input_devices

    pulse = next(d for d in list_input_devices(rescan=True) if d.name == "pulse")
    cap = Capture()
    cap.start(pulse)
    try:
        assert cap.read(1.0) or cap.read(1.0)
        mic.halt.set()          # the FIFO stops: the pipe source stops advancing
        mic.join(5)
        t0 = time.monotonic()
        with pytest.raises(CaptureError) as err:
            while time.monotonic() - t0 < SILENT_DEVICE_S + 5:
                cap.read(0.2)
        assert "no audio" in str(err.value) and "pick another device" in str(err.value)
    finally:
        cap.stop()
    again = MicWriter(mic.fifo)
    again.start()
    try:
        cap2 = Capture()
        cap2.start(pulse)
        try:
            got = b""
            deadline = time.monotonic() + 5
            while not got and time.monotonic() < deadline:
                got = cap2.read(0.2)
            assert got, "capture did not resume"
        finally:
            cap2.stop()
    finally:
        again.stop()
