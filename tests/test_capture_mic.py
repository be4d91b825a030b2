"""gui/sources/capture.py on the virtual microphone of shared/TESTING.md
(tests/support/microphone.py): PulseAudio with a FIFO source, read through
sounddevice's "pulse" device at its native 44.1 kHz."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from tests.support.microphone import RATE, MicWriter, mic, need_mic  # noqa: F401


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
