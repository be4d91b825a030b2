"""What the worker holds: the Whisper model and the Silero VAD, loaded once.

Only the worker imports this module (it pulls in ctranslate2 and
onnxruntime). Silero runs through onnxruntime with the weights faster-whisper
ships, so torch is never imported: that keeps the worker near 200 MB instead
of 400+ (DESIGN.md).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from service.config import ModelConfig
from service.errors import BadInput, LoadFailed
from service.models import catalog
from service.pcm import SAMPLE_RATE
from service.worker import decoding, memory
from service.worker.decoding import MAX_AUDIO_SECONDS, LongAudio

HOP = 160                 # samples per Whisper feature frame: a segment's `seek` counts these
PROMPT_CHARS = 400        # the previous window's text given to the next (Whisper uses ~224 tokens)
# faster-whisper hands Silero 10000 windows (320 s) per ONNX call; in slices
# of this many (32 s) the VAD of a 10-minute window peaks at +77 MB instead of
# +176 MB (measured), with the very same probabilities: faster-whisper already
# slices, at 10000, carrying the state the same way.
VAD_SLICE = 1000


class SlicedSession:
    """Silero's ONNX session, running a large batch of windows in slices of
    at most `most`, the LSTM state (h, c) carried from slice to slice exactly
    as faster-whisper carries it between its own batches."""

    def __init__(self, session, most: int = VAD_SLICE):
        self._session = session
        self._most = most

    def run(self, names, feeds: dict):
        x = feeds["input"]
        if x.shape[0] <= self._most:
            return self._session.run(names, feeds)
        h, c, outs = feeds["h"], feeds["c"], []
        for i in range(0, x.shape[0], self._most):
            out, h, c = self._session.run(names, {"input": x[i:i + self._most], "h": h, "c": c})
            outs.append(out)
        return [np.concatenate(outs, axis=0), h, c]

    def __getattr__(self, name):
        return getattr(self._session, name)


def resolve_model(name: str, cache_dir: str | None = None) -> str:
    """The folder to load for a --model value (service/models/catalog.py):
    tiny.en from its package, base joined once into the model cache, a
    downloaded name, or a CTranslate2 folder, checked before CTranslate2 sees
    it. LoadFailed with a sentence otherwise; the worker never downloads."""
    return catalog.resolve(name, cache_dir)


@dataclass
class LoadedInfo:
    model: str
    model_path: str
    device: str
    compute_type: str
    multilingual: bool
    load_seconds: float
    languages: list[str] | None = None   # the codes this model knows (large-v3 adds yue)


class Engine:
    def __init__(self, cfg: ModelConfig):
        t0 = time.perf_counter()
        # First, from the files alone: a wrong --model fails before the model
        # stack is even imported.
        path = resolve_model(cfg.model, cfg.download_root)
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
            from faster_whisper.vad import get_vad_model
        except ImportError as exc:
            raise LoadFailed(f"faster-whisper is not installed ({exc}). "
                             "Install the project with pip, then start again.") from exc
        device = cfg.device
        if device == "auto":
            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
            raise LoadFailed("CUDA was requested (--device cuda) but no CUDA device is "
                             "available to CTranslate2. Start with --device cpu or --device auto.")
        compute_type = cfg.compute_type or ("float16" if device == "cuda" else "int8")
        try:
            self.model = WhisperModel(path, device=device, compute_type=compute_type,
                                      cpu_threads=cfg.threads(), local_files_only=True)
        except Exception as exc:
            # The folder passed its file checks, so what is left is CTranslate2's own
            # refusal (a compute type the device lacks, a newer model format...).
            raise LoadFailed(
                f"The model '{cfg.model}' ({path}) could not be loaded on {device} "
                f"({compute_type}): {exc}. Try another --compute-type or --device, or "
                "choose another model.") from exc
        # Silero VAD, once; faster-whisper caches this instance for vad_filter.
        self.vad = get_vad_model()
        if not isinstance(self.vad.session, SlicedSession):
            self.vad.session = SlicedSession(self.vad.session)
        self.info = LoadedInfo(model=cfg.model, model_path=path, device=device,
                               compute_type=compute_type,
                               multilingual=bool(self.model.model.is_multilingual),
                               languages=list(getattr(self.model, "supported_languages", None)
                                              or []) or None,
                               load_seconds=time.perf_counter() - t0)

    # ------------------------------------------------------------ decoding
    @staticmethod
    def decode_file(data: bytes, max_seconds: float = MAX_AUDIO_SECONDS) -> np.ndarray | LongAudio:
        """An allowed audio container (service/worker/decoding.py) -> 16 kHz mono
        float32, refusing more than `max_seconds` of audio while decoding, not
        after. Audio longer than one window comes back as a LongAudio, which
        transcribe() takes window by window (memory bounded whatever the length)."""
        return decoding.decode(data, max_seconds)

    # ------------------------------------------------------------ transcription
    def check_request(self, options: dict, language_fix: str = "Use language 'en'") -> None:
        """Refuse what this model cannot do, before any work is spent on it."""
        if self.info.multilingual:
            return
        lang = options.get("language")
        if lang and lang != "en":
            raise BadInput(f"The loaded model ({self.info.model}) only knows English, but "
                           f"language '{lang}' was requested. {language_fix}, or start the "
                           "service with a multilingual model (asr-service serve --model base).")
        if options.get("task") == "translate":
            raise BadInput(f"The loaded model ({self.info.model}) only knows English and cannot "
                           "translate. Send task 'transcribe', or start the service with a "
                           "multilingual model (asr-service serve --model base).")

    def transcribe(self, audio: np.ndarray | LongAudio, options: dict) -> dict:
        opts = dict(options)
        want_words = bool(opts.pop("word_timestamps", False))
        self.check_request(opts)
        opts.setdefault("beam_size", 5)
        opts.setdefault("vad_filter", True)
        t0 = time.perf_counter()
        if isinstance(audio, LongAudio):
            out, info = self._transcribe_windows(audio, opts, want_words)
        else:
            out, info = self._segments(audio, opts, want_words)
        return {
            "text": "".join(s["text"] for s in out).strip(),
            "language": info.language,
            "language_probability": info.language_probability,
            "language_probabilities": dict(info.all_language_probs) if info.all_language_probs else None,
            "duration": audio.size / SAMPLE_RATE if isinstance(audio, LongAudio) else info.duration,
            "segments": out,
            "compute_seconds": time.perf_counter() - t0,
        }

    def _transcribe_windows(self, audio: LongAudio, opts: dict, want_words: bool):
        """Window by window (decoding.WINDOW_SECONDS), timestamps moved to the
        whole file's timeline. The language found in the first window with
        speech holds for the rest, and each window is prompted with the end of
        the previous one's text, as faster-whisper conditions its own 30 s
        chunks on the text before them."""
        out: list[dict] = []
        info = None
        for offset, window in audio.windows():
            segs, window_info = self._segments(window, opts, want_words, offset, len(out))
            del window   # before the next window is decoded
            memory.give_back()   # so the windows do not pile up in a fragmented heap
            if info is None or (segs and not out):
                info = window_info
            if segs and not out and not opts.get("language"):
                opts["language"] = window_info.language
            if segs and opts.get("condition_on_previous_text", True):
                opts["initial_prompt"] = "".join(s["text"] for s in segs)[-PROMPT_CHARS:]
            out += segs
        return out, info

    def _segments(self, audio: np.ndarray, opts: dict, want_words: bool,
                  offset: int = 0, first_id: int = 0) -> tuple[list[dict], object]:
        """faster-whisper over `audio`, which starts `offset` samples into the file."""
        segments, info = self.model.transcribe(audio, word_timestamps=want_words, **opts)
        at = offset / SAMPLE_RATE
        out = []
        for i, s in enumerate(segments, first_id):
            seg = {"id": i, "seek": s.seek + offset // HOP, "start": round(s.start + at, 3),
                   "end": round(s.end + at, 3),
                   "text": s.text, "tokens": list(s.tokens), "temperature": s.temperature,
                   "avg_logprob": s.avg_logprob, "compression_ratio": s.compression_ratio,
                   "no_speech_prob": s.no_speech_prob}
            if want_words and s.words:
                seg["words"] = [{"word": w.word, "start": round(w.start + at, 3),
                                 "end": round(w.end + at, 3), "probability": w.probability}
                                for w in s.words]
            out.append(seg)
        return out, info
