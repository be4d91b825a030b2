"""Audio capture: a device list people recognise, and 16 kHz mono PCM.

The list has every input device PortAudio offers and, where the platform
has them, what the computer is playing ("What this computer plays: ..."):
PulseAudio/PipeWire monitors on Linux (with every single source, through
gui/sources/pulse.py), WASAPI loopback devices on Windows when the PortAudio
library lists them (see `_is_loopback`). docs/sources.md has what each
platform needs and how the rates were chosen.

The PortAudio callback only mixes the channels to mono, copies the block
into a queue and updates the level: it never waits for the network or the
UI. Resampling from the device's own rate (service/pcm.py, with an
anti-aliasing filter) happens in the reader's thread.

PortAudio lists devices once, when it is initialised; a microphone plugged
in later, or one that came back, is only seen after a re-initialisation,
which `list_input_devices(rescan=True)` and `Capture.start` do while no
stream is open. That is what makes capture resumable without restarting the
app.
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication

from gui.sources import pulse
from service.pcm import SAMPLE_RATE as TARGET_RATE
from service.pcm import ChunkResampler as Resampler

log = logging.getLogger("asr.capture")

QUEUE_BLOCKS = 400          # ~10-20 s of audio at usual block sizes: the network side may lag
SILENT_DEVICE_S = 3.0       # an open stream that delivers nothing this long has gone away

# Host APIs in the order their copy of a duplicated device is kept: the
# modern one first (Windows lists one microphone under four APIs).
_HOSTAPI_RANK = ("Windows WASAPI", "Core Audio", "PulseAudio", "ALSA", "JACK Audio Connection Kit",
                 "Windows DirectSound", "MME", "Windows WDM-KS", "OSS")
# ALSA's plugin pseudo-devices: none of them is a microphone a person picks.
_ALSA_PLUMBING = re.compile(r"^(sysdefault|dmix|dsnoop|front|rear|center_lfe|side|surround\d*|"
                            r"iec958|spdif|hdmi|modem|phoneline|lavrate|samplerate|speexrate|"
                            r"upmix|vdownmix|jack|oss|null)(:|$)", re.I)
# Windows' "whatever the default is" entries: the real default is marked instead.
_WINDOWS_MAPPERS = ("microsoft sound mapper - input", "primary sound capture driver")
_MME_NAME_LIMIT = 31        # MME cuts names at 31 characters
# PortAudio (after 19.7.0) lists each WASAPI output once more as an input named
# "<output> [Loopback]"; its source says other projects rely on that name.
_LOOPBACK_SUFFIX = "[Loopback]"
MICROPHONE, PLAYBACK = "microphone", "playback"

_pa_lock = threading.Lock()  # PortAudio (re)initialisation vs. opening a stream


class CaptureError(Exception):
    """A sentence for the user: what failed, why, what to do."""


@dataclass(frozen=True)
class InputDevice:
    key: str            # survives rescans (PortAudio indices do not)
    label: str          # what the picker shows
    name: str           # PortAudio's name, with its host API below
    hostapi: str
    index: int          # valid for the listing it came from
    channels: int
    rate: float
    is_default: bool
    kind: str = MICROPHONE  # PLAYBACK: what the computer plays (a monitor, a loopback)
    source: str = ""        # a PulseAudio source name, opened through ALSA's "pulse" device


def _sd():
    try:
        import sounddevice
    except OSError as exc:   # the PortAudio library itself is missing
        raise CaptureError(QCoreApplication.translate(
            "Capture", "Audio capture is not available: the PortAudio library could not be "
            "loaded ({error}). Install PortAudio (libportaudio2 on Debian/Ubuntu), then start "
            "captions again.").format(error=exc)) from None
    return sounddevice


def _plays(device: str) -> str:
    return QCoreApplication.translate("Capture", "What this computer plays: {device}").format(
        device=device)


def _pretty(name: str, hostapi: str) -> str:
    if hostapi == "ALSA":
        name = re.sub(r"\s*\(hw:\d+,\d+\)$", "", name)
        if name == "default":
            return QCoreApplication.translate("Capture", "System default")
        if name == "pulse":
            return QCoreApplication.translate("Capture", "PulseAudio sound server")
    return name.strip()


def _same_device(a: str, b: str) -> bool:
    a, b = a.strip().lower(), b.strip().lower()
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= _MME_NAME_LIMIT - 1 and long_.startswith(short)


def list_input_devices(rescan: bool = False) -> list[InputDevice]:
    """Input devices, duplicates across host APIs collapsed, the default first
    and marked. Raises CaptureError when PortAudio cannot list anything."""
    sd = _sd()
    with _pa_lock:
        try:
            if rescan:
                sd._terminate()
                sd._initialize()
            apis = sd.query_hostapis()
            devices = [dict(d) for d in sd.query_devices()]
            default_in = sd.default.device[0]
            for d in devices:
                if apis[d["hostapi"]]["name"] == "Windows WASAPI":
                    d["loopback"] = _is_loopback(sd, d)
        except Exception as exc:
            raise CaptureError(QCoreApplication.translate(
                "Capture", "The list of audio devices could not be read ({error}). Check that "
                "the sound system is running, then refresh the list.").format(error=exc)) from None
    found = collapse(devices, apis, default_in)
    if any(d.hostapi == "ALSA" and d.name == "pulse" for d in found) and \
            not any(a["name"] == "PulseAudio" for a in apis):
        found = with_pulse_sources(found, pulse.list_sources())
    return found


def _is_loopback(sd, device: dict) -> bool:
    """A WASAPI loopback input. PaWasapi_IsLoopback is in sounddevice's
    declarations but only in PortAudio libraries built after 19.7.0 (the one
    sounddevice bundles for Windows is 19.7.0: it has neither the function
    nor loopback devices); without it, PortAudio's name marker decides."""
    try:
        return sd._lib.PaWasapi_IsLoopback(device["index"]) == 1
    except AttributeError:
        return device["name"].rstrip().endswith(_LOOPBACK_SUFFIX)


def with_pulse_sources(found: list[InputDevice], sources) -> list[InputDevice]:
    """The PortAudio list plus one entry per PulseAudio/PipeWire source
    (pulse.PulseSource), opened through the ALSA "pulse" device: the
    microphones after PortAudio's entries, the monitors last."""
    via = next(d for d in found if d.hostapi == "ALSA" and d.name == "pulse")
    mics, plays = [], []
    for s in sources:
        dev = InputDevice(key=f"ALSA|pulse|{s.name}",
                          label=_plays(s.monitor_of) if s.monitor_of else s.description,
                          name=s.name, hostapi="ALSA", index=via.index, channels=s.channels,
                          rate=float(s.rate), is_default=False,
                          kind=PLAYBACK if s.monitor_of else MICROPHONE, source=s.name)
        (plays if s.monitor_of else mics).append(dev)
    taken = {d.label for d in found}
    out = list(found)
    by_label = lambda d: d.label.lower()  # noqa: E731
    for dev in sorted(mics, key=by_label) + sorted(plays, key=by_label):
        if dev.label in taken:      # two sources with one description: the name tells them apart
            dev = InputDevice(**{**vars(dev), "label": f"{dev.label} ({dev.name})"})
        taken.add(dev.label)
        out.append(dev)
    return out


def collapse(devices, apis, default_in: int | None) -> list[InputDevice]:
    """PortAudio's raw listing -> what a person picks from: inputs only, no
    ALSA plumbing, one entry per physical device (its best host API), the
    default first and marked."""
    if default_in is None or default_in < 0:
        default_in = next((a["default_input_device"] for a in apis
                           if a.get("default_input_device", -1) >= 0), -1)
    rank = {name: i for i, name in enumerate(_HOSTAPI_RANK)}
    found: list[InputDevice] = []
    for d in devices:
        if d["max_input_channels"] < 1:
            continue
        api = apis[d["hostapi"]]["name"]
        if api == "ALSA" and _ALSA_PLUMBING.match(d["name"]):
            continue
        if d["name"].strip().lower() in _WINDOWS_MAPPERS:
            continue
        label, kind = _pretty(d["name"], api), MICROPHONE
        loopback = d["loopback"] if "loopback" in d else (
            api == "Windows WASAPI" and d["name"].rstrip().endswith(_LOOPBACK_SUFFIX))
        if loopback:
            output = d["name"].rstrip()
            if output.endswith(_LOOPBACK_SUFFIX):
                output = output[:-len(_LOOPBACK_SUFFIX)].rstrip()
            label, kind = _plays(output), PLAYBACK
        elif api == "PulseAudio" and d["name"].startswith("Monitor of "):
            # a PortAudio with its own PulseAudio host API lists monitors itself
            label, kind = _plays(d["name"][len("Monitor of "):].strip()), PLAYBACK
        found.append(InputDevice(key=f"{api}|{d['name']}", label=label,
                                 name=d["name"], hostapi=api, index=d["index"],
                                 channels=d["max_input_channels"], rate=d["default_samplerate"],
                                 is_default=d["index"] == default_in and kind == MICROPHONE,
                                 kind=kind))
    found.sort(key=lambda x: (not x.is_default, x.kind == PLAYBACK, rank.get(x.hostapi, 99)))
    kept: list[InputDevice] = []
    for dev in found:
        twin = next((k for k in kept if _same_device(k.label, dev.label)), None)
        if twin is None:
            kept.append(dev)
        elif len(dev.label) > len(twin.label) and twin.label.lower() in dev.label.lower():
            # MME cut the name short: keep the kept entry, with the full name
            kept[kept.index(twin)] = InputDevice(**{**vars(twin), "label": dev.label})
    system_default = QCoreApplication.translate("Capture", "System default")
    return [InputDevice(**{**vars(d), "label": QCoreApplication.translate(
                "Capture", "{device} (default)").format(device=d.label)})
            if d.is_default and not d.label.startswith(system_default) else d for d in kept]


class Capture:
    """One open input stream. `read()` gives 16 kHz mono s16le bytes."""

    def __init__(self):
        self.device: InputDevice | None = None
        self.level = 0.0                 # 0..1, for a meter (dBFS mapped from -60..0)
        self.dropped = 0                 # blocks lost because nobody read them in time
        self.started_at: float | None = None
        self._q: queue.Queue = queue.Queue(maxsize=QUEUE_BLOCKS)
        self._stream = None
        self._resample: Resampler | None = None
        self._failure: str | None = None
        self._stopping = False
        self._last_block = 0.0

    # ------------------------------------------------------------ open / close
    def start(self, device: InputDevice | None) -> InputDevice:
        """Open `device` (None: the default) at its own rate and channel
        count. Blocking (PortAudio): call it off the UI thread."""
        sd = _sd()
        devices = list_input_devices(rescan=True)
        if not devices:
            raise CaptureError(QCoreApplication.translate(
                "Capture", "No microphone was found. Plug one in (or enable it in the system's "
                "sound settings), then press Start again."))
        if device is None:
            dev = next((d for d in devices if d.is_default), devices[0])
        else:
            dev = next((d for d in devices if d.key == device.key), None)
            if dev is None:
                raise CaptureError(QCoreApplication.translate(
                    "Capture", "The microphone '{device}' is not connected any more. Plug it "
                    "back in, or pick another device, then press Start.").format(
                        device=device.label))
        channels = self._channels(dev)
        self._resample = Resampler(dev.rate)
        with _pa_lock, pulse.selected(dev.source):
            try:
                self._stream = sd.InputStream(
                    device=dev.index, samplerate=dev.rate, channels=channels, dtype="float32",
                    blocksize=0, latency="low", callback=self._callback,
                    finished_callback=self._finished)
                self._stream.start()
            except Exception as exc:
                self._stream = None
                raise CaptureError(QCoreApplication.translate(
                    "Capture", "The microphone '{device}' could not be opened ({error}). Another "
                    "program may hold it, or it was just unplugged: pick another device or try "
                    "again.").format(device=dev.label, error=exc)) from None
        self.device = dev
        self.started_at = time.monotonic()
        self._last_block = self.started_at
        log.info("capturing from %s (%s, %d ch, %g Hz)", dev.label, dev.hostapi, channels, dev.rate)
        return dev

    @staticmethod
    def _channels(dev: InputDevice) -> int:
        """A mix of two is enough for speech; but a WASAPI loopback stream
        in shared mode opens reliably only with the output's own channel count (5.1
        speakers: 6), mixed down to mono in the callback like any other."""
        if dev.kind == PLAYBACK and dev.hostapi == "Windows WASAPI":
            return max(1, dev.channels)
        return max(1, min(dev.channels, 2))

    def stop(self) -> None:
        """Close the stream (blocking for a moment in PortAudio: not on the UI thread)."""
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is not None:
            with _pa_lock:
                try:
                    stream.abort()
                    stream.close()
                except Exception as exc:
                    log.warning("closing the input stream: %s", exc)

    # ------------------------------------------------------------ PortAudio's thread
    def _callback(self, indata, frames, time_info, status) -> None:
        # Channels are averaged to mono before resampling (service/pcm.py filters it).
        block = indata.mean(axis=1) if indata.shape[1] > 1 else indata[:, 0].copy()
        rms = float(np.sqrt(np.mean(block * block))) if block.size else 0.0
        self.level = max(0.0, min(1.0, (20 * np.log10(rms + 1e-9) + 60) / 60))
        self._last_block = time.monotonic()
        try:
            self._q.put_nowait(block)
        except queue.Full:
            self.dropped += 1

    def _finished(self) -> None:
        if not self._stopping:
            if self.device:
                self._failure = QCoreApplication.translate(
                    "Capture", "The microphone '{device}' stopped delivering audio: it was "
                    "unplugged or the sound system stopped it. Plug it back in or pick another "
                    "device, then press Start.").format(device=self.device.label)
            else:
                self._failure = QCoreApplication.translate(
                    "Capture", "The microphone stopped delivering audio: it was unplugged or "
                    "the sound system stopped it. Plug it back in or pick another device, then "
                    "press Start.")

    # ------------------------------------------------------------ reader's thread
    def read(self, timeout: float = 0.1) -> bytes:
        """Whatever arrived, as 16 kHz mono s16le; b'' when nothing did.
        Raises CaptureError once the device has failed."""
        blocks = []
        try:
            blocks.append(self._q.get(timeout=timeout))
            while True:
                blocks.append(self._q.get_nowait())
        except queue.Empty:
            pass
        if not blocks:
            self._check_alive()
            return b""
        x = self._resample(np.concatenate(blocks))
        return (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()

    def _check_alive(self) -> None:
        if self._failure:
            raise CaptureError(self._failure)
        stream = self._stream
        if stream is not None and time.monotonic() - self._last_block > SILENT_DEVICE_S:
            raise CaptureError(QCoreApplication.translate(
                "Capture", "The microphone '{device}' has delivered no audio for {s} s: it was "
                "probably unplugged or suspended. Plug it back in or pick another device, then "
                "press Start.").format(device=self.device.label if self.device else "?",
                                       s=f"{SILENT_DEVICE_S:g}"))
