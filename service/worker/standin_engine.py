"""A stand-in for the model stack, switched on by ASR_TRAY_ENGINE=standin.

A test aid, never a default (DESIGN.md): for a platform or a test where
faster-whisper, CTranslate2 or onnxruntime cannot load, the worker still runs
for real — spawned, supervised, killed, restarted, recorded — holding some
memory like a model would and answering every file transcription with one
fixed text. Nothing of the model stack is imported. Live streams and the
node's utterances need the real VAD and decoder, and are refused with a
sentence.
"""
from __future__ import annotations

import time

from service import protocol
from service.config import ModelConfig
from service.errors import BadInput
from service.worker.engine import LoadedInfo

ENV = "ASR_TRAY_ENGINE"
NAME = "standin"
TEXT = "This is the stand-in engine of ASR Tray."
HELD_BYTES = 64 * 2**20    # what a small model would hold, so memory figures are not empty
SERVES = (protocol.TRANSCRIBE_FILE,)


class StandinEngine:
    def __init__(self, cfg: ModelConfig):
        t0 = time.perf_counter()
        self._held = bytearray(HELD_BYTES)
        self._held[::4096] = b"\1" * len(self._held[::4096])  # touched, so it is resident
        self.info = LoadedInfo(model=NAME, model_path=f"(stand-in for {cfg.model})", device="cpu",
                               compute_type="none", multilingual=False,
                               load_seconds=time.perf_counter() - t0)

    @staticmethod
    def refuse(op: str) -> None:
        if op not in SERVES:
            raise BadInput(f"The worker runs the stand-in engine ({ENV}={NAME}, a test aid), "
                           "which answers file transcriptions only. Start the service without "
                           f"{ENV} for live streams and utterances.")

    @staticmethod
    def decode_file(data: bytes):
        if not data:
            raise BadInput("The uploaded file is empty. Send an audio file (wav, mp3, "
                           "flac, ogg, m4a, webm...).")
        return len(data)

    def check_request(self, options: dict, language_fix: str = "") -> None:
        pass

    def transcribe(self, audio, options: dict) -> dict:
        segment = {"id": 0, "seek": 0, "start": 0.0, "end": 1.0, "text": " " + TEXT,
                   "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
                   "compression_ratio": 1.0, "no_speech_prob": 0.0}
        return {"text": TEXT, "language": "en", "language_probability": 1.0,
                "language_probabilities": None, "duration": 1.0, "segments": [segment],
                "compute_seconds": 0.0}
