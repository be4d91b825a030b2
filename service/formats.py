"""Subtitle and text renderings of timed segments (OpenAI response_format
values, and the captions window's export). Pure Python: the tray uses it too."""
from __future__ import annotations

from typing import Iterable, Mapping


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(segments: Iterable[Mapping]) -> str:
    cues = []
    for i, seg in enumerate(s for s in segments if str(s["text"]).strip()):
        cues.append(f"{i + 1}\n{_stamp(seg['start'], ',')} --> {_stamp(seg['end'], ',')}\n"
                    f"{str(seg['text']).strip()}\n")
    return "\n".join(cues)


def to_vtt(segments: Iterable[Mapping]) -> str:
    cues = ["WEBVTT\n"]
    for seg in segments:
        if str(seg["text"]).strip():
            cues.append(f"{_stamp(seg['start'], '.')} --> {_stamp(seg['end'], '.')}\n"
                        f"{str(seg['text']).strip()}\n")
    return "\n".join(cues)


def to_text(segments: Iterable[Mapping]) -> str:
    return "\n".join(str(s["text"]).strip() for s in segments if str(s["text"]).strip()) + "\n"
