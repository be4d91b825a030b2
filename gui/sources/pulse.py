"""PulseAudio / PipeWire sources: every microphone the sound server knows and
every monitor ("what this computer plays"), for the device list.

PortAudio as shipped on Linux (19.6 in Debian 12, 19.7 elsewhere) has no
PulseAudio host API: it reaches the sound server only through ALSA's "pulse"
plugin device, which records the server's default source. Two facts make
single sources usable anyway, both verified here (sounddevice 0.5.6,
PortAudio V19.6.0, PulseAudio 16.1; PipeWire's pulse server behaves the same
towards libpulse):

- `pactl` lists the sources with their descriptions, formats and, for a
  monitor, the sink it records (`pactl --format=json`, PulseAudio 16 and
  pipewire-pulse; older pactl gives only `list short`).
- libpulse reads PULSE_SOURCE when a client connects, and the ALSA plugin
  connects when PortAudio opens the device: opening "pulse" with
  PULSE_SOURCE=<name> records that source, at its own rate and channels.
  `selected()` sets it for exactly that moment.

Without pactl (pulseaudio-utils not installed) or without a server, the list
just has no sources of this kind; nothing fails.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger("asr.capture")

PACTL_TIMEOUT_S = 3.0
_SPEC = re.compile(r"(\d+)ch\s+(\d+)Hz")


@dataclass(frozen=True)
class PulseSource:
    name: str                 # the server's name (what PULSE_SOURCE takes)
    description: str          # what the server's own settings show
    channels: int
    rate: int
    monitor_of: str | None    # for a monitor: the description of the sink it records


def _pactl(*args: str) -> str | None:
    exe = shutil.which("pactl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *args], capture_output=True, text=True,
                             timeout=PACTL_TIMEOUT_S, env=dict(os.environ, LC_ALL="C"))
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("pactl %s: %s", " ".join(args), exc)
        return None
    if out.returncode != 0:
        log.info("pactl %s failed: %s", " ".join(args), out.stderr.strip()[:200])
        return None
    return out.stdout


def _spec(text: str) -> tuple[int, int]:
    m = _SPEC.search(text or "")
    return (int(m.group(1)), int(m.group(2))) if m else (2, 48000)


def parse_json(sources_json: str, sinks_json: str | None) -> list[PulseSource]:
    """`pactl -f json list sources` (+ `list sinks`, for the monitors' names)."""
    sinks = {s.get("name"): s.get("description") or s.get("name")
             for s in (json.loads(sinks_json) if sinks_json else [])}
    found = []
    for s in json.loads(sources_json):
        props = s.get("properties") or {}
        # pactl calls the monitored sink "monitor_source" in its JSON (the
        # text listing says "Monitor of Sink"); device.class says it too.
        sink = s.get("monitor_source") or None
        is_monitor = bool(sink) or props.get("device.class") == "monitor"
        description = s.get("description") or props.get("device.description") or s["name"]
        channels, rate = _spec(s.get("sample_specification", ""))
        monitor_of = None
        if is_monitor:
            monitor_of = sinks.get(sink) or re.sub(r"^Monitor of\s+", "", description)
        found.append(PulseSource(s["name"], description, channels, rate, monitor_of))
    return found


def parse_short(text: str) -> list[PulseSource]:
    """`pactl list short sources`: index, name, driver, format, state."""
    found = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 4:
            continue
        name = cols[1]
        channels, rate = _spec(cols[3])
        monitor_of = name[:-len(".monitor")] if name.endswith(".monitor") else None
        found.append(PulseSource(name, name, channels, rate, monitor_of))
    return found


def list_sources() -> list[PulseSource]:
    """The sound server's sources, or [] when it (or pactl) is not there."""
    text = _pactl("--format=json", "list", "sources")
    if text is not None:
        try:
            return parse_json(text, _pactl("--format=json", "list", "sinks"))
        except (ValueError, KeyError, TypeError) as exc:
            log.info("pactl's JSON was not understood (%s); using its short listing", exc)
    text = _pactl("list", "short", "sources")
    return parse_short(text) if text else []


@contextmanager
def selected(source: str | None):
    """PULSE_SOURCE=source while the body opens the ALSA "pulse" device.
    The environment is process-wide: callers hold capture's PortAudio lock,
    the only other place that opens a sound device."""
    if not source:
        yield
        return
    before = os.environ.get("PULSE_SOURCE")
    os.environ["PULSE_SOURCE"] = source
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PULSE_SOURCE", None)
        else:
            os.environ["PULSE_SOURCE"] = before
