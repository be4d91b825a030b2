"""Sources beyond the default microphone (issue 12): every PulseAudio source
and what the computer plays on Linux, for real on the test PulseAudio
(tests/support/pulse.py); WASAPI loopback devices from Windows listings
(PortAudio's data: no Windows device is opened here)."""
from __future__ import annotations

import json
import time

import numpy as np

from tests.support import speech
from tests.support.live_stream import caption
from tests.support.microphone import need_mic
from tests.support.pulse import NullSink, PipeSource


def by_source(name: str):
    from gui.sources.capture import list_input_devices

    return next((d for d in list_input_devices(rescan=True) if d.source == name), None)


# ------------------------------------------------------------------ Linux, for real
def test_every_source_and_every_monitor_is_listed_with_names_people_recognise():
    need_mic()
    from gui.sources.capture import MICROPHONE, PLAYBACK, list_input_devices

    with PipeSource(48000, 2, "Studio Microphone") as mic, NullSink("Meeting Speakers") as sink:
        devices = list_input_devices(rescan=True)
        labels = [d.label for d in devices]
        assert len(labels) == len(set(labels)), labels
        assert devices[0].is_default and sum(d.is_default for d in devices) == 1, devices
        studio = next(d for d in devices if d.source == mic.name)
        assert (studio.label, studio.kind, studio.rate, studio.channels) == (
            "Studio Microphone", MICROPHONE, 48000.0, 2), studio
        plays = next(d for d in devices if d.source == sink.monitor)
        assert (plays.label, plays.kind) == ("What this computer plays: Meeting Speakers",
                                             PLAYBACK), plays
        # microphones first, then what the computer plays
        kinds = [d.kind for d in devices]
        assert kinds == sorted(kinds, key=lambda k: k == PLAYBACK), kinds
        assert "PulseAudio sound server" in labels       # still there (the old entry)
        keys = {d.key for d in devices}
    assert f"ALSA|pulse|{mic.name}" in keys and f"ALSA|pulse|{sink.monitor}" in keys
    # unloaded: gone from the next scan
    gone = {d.key for d in list_input_devices(rescan=True)}
    assert f"ALSA|pulse|{mic.name}" not in gone and f"ALSA|pulse|{sink.monitor}" not in gone


def test_a_source_is_opened_by_name_at_its_own_rate():
    """The default source is the 16 kHz FIFO; this reads the 44.1 kHz one."""
    need_mic()
    from gui.sources.capture import Capture

    rate = 44100
    with PipeSource(rate, 2, "Tone Source") as src:
        dev = by_source(src.name)
        t = np.arange(rate * 3) / rate
        tone = (0.3 * np.sin(2 * np.pi * 1000 * t) * 32767).astype("<i2")
        cap = Capture()
        cap.start(dev)
        try:
            src.say(np.repeat(tone[:, None], 2, axis=1).tobytes())
            got = bytearray()
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and len(got) < 16000 * 2 * 2.5:
                got += cap.read(0.1)
        finally:
            cap.stop()
    x = np.frombuffer(bytes(got), "<i2").astype(np.float32) / 32768
    loud = np.flatnonzero(np.abs(x) > 0.1)
    assert loud.size, "the tone never arrived: another source was recorded"
    seg = x[loud[0] + 1600: loud[0] + 1600 + 8000]
    assert seg.size == 8000, f"only {(x.size - loud[0]) / 16000:.2f} s of tone arrived"
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    assert abs(np.argmax(spectrum) * 16000 / seg.size - 1000) < 15
    assert 0.2 < np.sqrt(np.mean(seg ** 2)) < 0.23     # 0.3 peak; stereo mixed, not summed


def test_captions_from_what_the_computer_plays(tmp_path, service):
    """paplay plays sentences into a null sink; the tray's capture of its
    monitor, streamed to the service, gives them back."""
    need_mic()
    keys = ["train", "apples"]
    wav = speech.concat(tmp_path / "played.wav",
                        [speech.make_speech(tmp_path, k) for k in keys], gap_s=1.0)
    reference = " ".join(speech.SENTENCES[k][2] for k in keys)
    with NullSink("Video Player Speakers") as sink:
        dev = by_source(sink.monitor)
        assert dev is not None and dev.label == "What this computer plays: Video Player Speakers"
        player = []
        finals = caption(service.url, dev, play=lambda: player.append(sink.play(wav)),
                         until=lambda: player[0].poll() is not None, tail_s=2.0)
        assert player[0].returncode == 0, player[0].stderr.read()
    text = " ".join(f["text"] for f in finals)
    assert len(finals) >= 2, finals
    assert speech.wer(reference, text) <= 0.3, text


def test_pactl_listings_become_sources():
    """What pactl gives (PulseAudio 16 JSON, and the short listing of older
    pactl) becomes names people recognise; PipeWire's pulse server lists the
    same fields."""
    from gui.sources import pulse

    sources = json.dumps([
        {"name": "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor",
         "description": "Monitor of Built-in Audio Analog Stereo", "monitor_source":
         "alsa_output.pci-0000_00_1f.3.analog-stereo",
         "sample_specification": "s32le 2ch 48000Hz",
         "properties": {"device.class": "monitor"}},
        {"name": "alsa_input.usb-Blue_Yeti-00.analog-stereo",
         "description": "Yeti Stereo Microphone",
         "monitor_source": "", "sample_specification": "s16le 2ch 48000Hz",
         "properties": {"device.class": "sound"}},
        {"name": "bluez_input.00_1B_66", "description": "Headset", "monitor_source": "",
         "sample_specification": "s16le 1ch 16000Hz", "properties": {}},
    ])
    sinks = json.dumps([{"name": "alsa_output.pci-0000_00_1f.3.analog-stereo",
                         "description": "Laptop Speakers"}])
    got = pulse.parse_json(sources, sinks)
    assert [(s.description, s.monitor_of, s.channels, s.rate) for s in got] == [
        ("Monitor of Built-in Audio Analog Stereo", "Laptop Speakers", 2, 48000),
        ("Yeti Stereo Microphone", None, 2, 48000),
        ("Headset", None, 1, 16000)]
    short = ("0\talsa_output.pci.analog-stereo.monitor\tmodule-alsa-card.c\t"
             "s16le 2ch 44100Hz\tIDLE\n"
             "1\talsa_input.pci.analog-stereo\tmodule-alsa-card.c\ts16le 2ch 44100Hz\tRUNNING\n")
    assert [(s.name, s.monitor_of) for s in pulse.parse_short(short)] == [
        ("alsa_output.pci.analog-stereo.monitor", "alsa_output.pci.analog-stereo"),
        ("alsa_input.pci.analog-stereo", None)]


def test_without_pactl_the_list_is_what_portaudio_offers(monkeypatch):
    from gui.sources import pulse

    monkeypatch.setattr(pulse.shutil, "which", lambda name: None)
    assert pulse.list_sources() == []


# ------------------------------------------------------------------ Windows listings
def dev(index, name, api, ch=2, rate=48000.0, **extra):
    return {"index": index, "name": name, "hostapi": api, "max_input_channels": ch,
            "default_samplerate": rate, **extra}


WASAPI_APIS = [{"name": "MME", "default_input_device": 1},
               {"name": "Windows DirectSound", "default_input_device": 4},
               {"name": "Windows WASAPI", "default_input_device": 6}]


def test_wasapi_loopback_devices_are_what_this_computer_plays():
    """A PortAudio built after 19.7.0 lists each output once more as an
    input, "<output> [Loopback]" (PaWasapi_IsLoopback says 1 for it)."""
    from gui.sources.capture import MICROPHONE, PLAYBACK, Capture, collapse

    devices = [
        dev(1, "Microphone (Realtek(R) Audio)", 0),
        dev(2, "Speakers (Realtek(R) Audio)", 0, ch=0),
        dev(4, "Microphone (Realtek(R) Audio)", 1),
        dev(6, "Microphone (Realtek(R) Audio)", 2),
        dev(7, "Speakers (Realtek(R) Audio)", 2, ch=0),
        dev(8, "Speakers (Realtek(R) Audio) [Loopback]", 2, ch=2, loopback=True),
        dev(9, "Headphones (Jabra Evolve 65) [Loopback]", 2, ch=6, rate=44100.0),
    ]
    out = collapse(devices, WASAPI_APIS, default_in=1)
    assert [(d.label, d.kind) for d in out] == [
        ("Microphone (Realtek(R) Audio) (default)", MICROPHONE),
        ("What this computer plays: Speakers (Realtek(R) Audio)", PLAYBACK),
        ("What this computer plays: Headphones (Jabra Evolve 65)", PLAYBACK),
    ], out
    loop = {d.label: d for d in out if d.kind == PLAYBACK}
    assert all(d.hostapi == "Windows WASAPI" and not d.is_default for d in loop.values())
    # shared-mode loopback opens with the output's own channel count, mixed to mono
    headphones = loop["What this computer plays: Headphones (Jabra Evolve 65)"]
    assert Capture._channels(headphones) == 6
    assert Capture._channels(out[0]) == 2


def test_the_portaudio_sounddevice_bundles_for_windows_has_no_loopback():
    """sounddevice's Windows DLL is PortAudio 19.7.0: no "[Loopback]"
    devices, no PaWasapi_IsLoopback. The list is the microphones, and the
    loopback check falls back to the name without failing."""
    from gui.sources.capture import PLAYBACK, _is_loopback, collapse

    devices = [dev(1, "Microphone (Realtek(R) Audio)", 0),
               dev(6, "Microphone (Realtek(R) Audio)", 2),
               dev(7, "Speakers (Realtek(R) Audio)", 2, ch=0)]
    assert not any(d.kind == PLAYBACK for d in collapse(devices, WASAPI_APIS, default_in=1))

    class Lib1970:            # cffi raises AttributeError for a symbol the library lacks
        def __getattr__(self, name):
            raise AttributeError(f"function/symbol '{name}' not found in library")

    class Sd:
        _lib = Lib1970()

    assert _is_loopback(Sd, dev(8, "Speakers (Realtek(R) Audio) [Loopback]", 2)) is True
    assert _is_loopback(Sd, dev(6, "Microphone (Realtek(R) Audio)", 2)) is False
