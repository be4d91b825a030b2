"""The compressed formats the tests make with PyAV (FFmpeg's own encoders):
name -> (PyAV container format, codec, codec sample rate)."""
from __future__ import annotations

ENCODINGS = {
    "flac": ("flac", "flac", 16000),
    "mp3": ("mp3", "libmp3lame", 16000),
    "ogg": ("ogg", "libopus", 48000),
    "webm": ("webm", "libopus", 48000),
    "m4a": ("ipod", "aac", 16000),
    "aac": ("adts", "aac", 16000),
    "aiff": ("aiff", "pcm_s16be", 16000),
}
