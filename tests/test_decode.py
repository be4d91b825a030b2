"""The worker's decoder: the same samples as faster-whisper's, and a cap that
holds while decoding, so a small, highly compressed file cannot decode to
hours of audio and take the worker's memory."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from faster_whisper.audio import decode_audio

from service.errors import BadInput, TooLong
from service.pcm import SAMPLE_RATE
from service.worker.engine import Engine


def test_same_samples_as_faster_whisper(speech_files):
    ours = Engine.decode_file(speech_files["fox"].read_bytes())
    theirs = decode_audio(str(speech_files["fox"]))
    assert ours.dtype == np.float32 and np.array_equal(ours, theirs)


def test_cap_holds_while_decoding(tmp_path):
    flac = tmp_path / "silence.flac"
    subprocess.run(["sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(flac),
                    "trim", "0", "60"], check=True)
    assert flac.stat().st_size < 1_000_000  # compressed far below what it decodes to
    with pytest.raises(TooLong, match="longer than"):
        Engine.decode_file(flac.read_bytes(), max_seconds=10)
    assert Engine.decode_file(flac.read_bytes(), max_seconds=61).size == 60 * SAMPLE_RATE


@pytest.mark.parametrize("data", [b"", b"RIFF....WAVEfmt garbage", bytes(range(256)) * 8])
def test_bad_files_are_bad_input(data):
    with pytest.raises(BadInput):
        Engine.decode_file(data)
