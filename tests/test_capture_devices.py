"""The microphone picker's list, from PortAudio listings as Windows and
Linux give them (what PortAudio reports is data; no device is opened)."""
from __future__ import annotations

from gui.sources.capture import Resampler, collapse

import numpy as np


def dev(index, name, api, ch=2, rate=44100.0):
    return {"index": index, "name": name, "hostapi": api, "max_input_channels": ch,
            "default_samplerate": rate}


def test_windows_duplicates_across_host_apis_are_collapsed():
    apis = [{"name": "MME", "default_input_device": 1},
            {"name": "Windows DirectSound", "default_input_device": 5},
            {"name": "Windows WASAPI", "default_input_device": 8},
            {"name": "Windows WDM-KS", "default_input_device": -1}]
    devices = [
        dev(0, "Microsoft Sound Mapper - Input", 0),
        dev(1, "Microphone Array (Intel® Smart ", 0),          # MME: cut at 31 characters
        dev(2, "Headset Microphone (Jabra Evolv", 0),
        dev(3, "Speakers (Realtek(R) Audio)", 0, ch=0),
        dev(4, "Primary Sound Capture Driver", 1),
        dev(5, "Microphone Array (Intel® Smart Sound Technology for Digital Microphones)", 1),
        dev(6, "Headset Microphone (Jabra Evolve 65)", 1),
        dev(8, "Microphone Array (Intel® Smart Sound Technology for Digital Microphones)", 2,
            rate=48000.0),
        dev(9, "Headset Microphone (Jabra Evolve 65)", 2, ch=1, rate=16000.0),
    ]
    out = collapse(devices, apis, default_in=1)
    labels = [d.label for d in out]
    assert labels == [
        "Microphone Array (Intel® Smart Sound Technology for Digital Microphones) (default)",
        "Headset Microphone (Jabra Evolve 65)"], labels
    assert out[0].is_default and not out[1].is_default
    assert out[1].hostapi == "Windows WASAPI"       # the modern API's copy is the one kept


def test_alsa_plumbing_is_hidden_and_names_are_friendly():
    apis = [{"name": "ALSA", "default_input_device": 3}]
    devices = [dev(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)", 0),
               dev(1, "sysdefault", 0), dev(2, "dmix", 0, ch=0), dev(3, "default", 0),
               dev(4, "pulse", 0), dev(5, "front:CARD=PCH,DEV=0", 0),
               dev(6, "USB Audio Device: - (hw:1,0)", 0, ch=1, rate=48000.0)]
    labels = [d.label for d in collapse(devices, apis, default_in=3)]
    assert labels == ["System default", "HDA Intel PCH: ALC892 Analog",
                      "PulseAudio sound server", "USB Audio Device: -"], labels


def test_resampler_is_seamless_across_blocks():
    rate = 48000
    x = np.sin(2 * np.pi * 300 * np.arange(rate) / rate).astype(np.float32)
    r = Resampler(rate)
    y = np.concatenate([r(x[i:i + 480]) for i in range(0, x.size, 480)])
    assert abs(y.size - 16000) <= 3
    # The anti-aliasing filter is causal: the sine comes out r.delay late
    # (about 2 ms), after a start from silence that long.
    ref = np.sin(2 * np.pi * 300 * (np.arange(y.size) / 16000 - r.delay))
    settled = int(2 * r.delay * 16000) + 1
    assert np.max(np.abs(y - ref)[settled:]) < 0.01
