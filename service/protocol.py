"""The worker protocol: every message between the service and its worker.

One `multiprocessing.Pipe` per worker generation carries pickled dicts. Both
sides build and read messages only through this module, so an op that one
side sends and the other does not handle cannot be written by accident
(tests/test_protocol.py checks the worker handles every op listed here).

worker -> service
  {"event": READY, "info": {...}}                     once, after the model loaded
  {"event": LOAD_FAILED, "message": str}              instead of READY; then exit(2)
  {"id": n, "ok": True, "result": ...}                one reply per request
  {"id": n, "ok": False, "status": int, "message": str}

service -> worker (each request carries the "id" the supervisor gives it)
  {"op": TRANSCRIBE_FILE, "data": bytes, "options": {...}}   a whole file (POST /v1/audio/transcriptions)
  {"op": UTTERANCE, "audio": bytes, "audio_format": str, "sample_rate": int,
   "options": {...}, "padding_ms": int, "use_context_buffer": bool,
   "use_text_context": bool, "trace_id": str, "state": {...}}   the node's POST /utterance
  {"op": STREAM_OPEN, "stream": id, "sample_rate": int, "language": str|None,
   "tuning": {...}|None}                              tuning: stream_tuning(), or test settings
  {"op": STREAM_FEED, "stream": id, "pcm": bytes}     -> {"events": [...], "position": s}
  {"op": STREAM_FLUSH, "stream": id}                  -> {"events": [...], ...}; state dropped
  {"op": STREAM_CLOSE, "stream": id}                  -> state dropped, nothing decoded
  {"op": STOP}                                        cooperative stop (layer L2); no reply
"""
from __future__ import annotations

from service.errors import BadInput

# ------------------------------------------------------------------ names
READY = "ready"
LOAD_FAILED = "load_failed"

TRANSCRIBE_FILE = "transcribe_file"
UTTERANCE = "utterance"
STREAM_OPEN = "stream_open"
STREAM_FEED = "stream_feed"
STREAM_FLUSH = "stream_flush"
STREAM_CLOSE = "stream_close"
STOP = "stop"

REQUESTS = (TRANSCRIBE_FILE, UTTERANCE, STREAM_OPEN, STREAM_FEED, STREAM_FLUSH, STREAM_CLOSE)
STREAM_OPS = (STREAM_OPEN, STREAM_FEED, STREAM_FLUSH, STREAM_CLOSE)

# ------------------------------------------------------ the node's utterances
# Part of an UTTERANCE request's shape: the front refuses what the worker
# would refuse, before the audio crosses the pipe.
PCM_FORMATS = ("pcm16", "pcm", "pcm_s16le", "s16le")
FILE_FORMATS = ("wav", "mp3", "flac", "ogg", "opus", "webm", "m4a", "mp4", "aac")
MAX_UTTERANCE_SECONDS = 600   # an utterance, not a recording: those go to /v1/audio/transcriptions


def check_utterance_length(seconds: float) -> None:
    """Refuse an utterance longer than MAX_UTTERANCE_SECONDS: the front on
    the length of raw PCM before it crosses the pipe, the worker on what it
    decoded. One sentence for both."""
    if seconds > MAX_UTTERANCE_SECONDS:
        raise BadInput(f"The utterance is {seconds:.0f} s long; /utterance takes at most "
                       f"{MAX_UTTERANCE_SECONDS} s. Send shorter utterances, or send long "
                       "recordings to /v1/audio/transcriptions.")


# ------------------------------------------------------ a live stream's options
# WS /v1/stream?vad_threshold=&end_silence_ms= (docs/streaming.md). The front
# refuses a value outside these ranges with the sentence below, before the
# stream opens; the worker gets the Tuning fields stream_tuning() makes. The
# tray's Settings window can check its fields against the same ranges.
VAD_THRESHOLD_DEFAULT = 0.5      # = service.worker.vad.THRESHOLD
VAD_THRESHOLD_RANGE = (0.05, 0.95)
END_SILENCE_MS_DEFAULT = 300     # = service.worker.streaming.Tuning.min_silence_s
END_SILENCE_MS_RANGE = (100, 3000)
# Below the threshold minus this a window is quiet (Silero's hysteresis; the
# defaults 0.5 and 0.35 keep the gap every stream had before it was settable).
NEG_THRESHOLD_GAP = 0.15
NEG_THRESHOLD_FLOOR = 0.01


def _as_number(value) -> float:
    """float(value), or NaN for what is not a number (NaN fails every range)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def check_vad_threshold(value) -> float:
    """`value` (a number, or the text of a query) as a threshold; BadInput
    quoting it as given when it is not one in VAD_THRESHOLD_RANGE."""
    lo, hi = VAD_THRESHOLD_RANGE
    number = _as_number(value)
    if not lo <= number <= hi:
        raise BadInput(f"The VAD threshold {value!r} is not usable: give the speech "
                       f"probability that starts speech, a number from {lo} to {hi} "
                       f"(default {VAD_THRESHOLD_DEFAULT}; higher ignores more noise, lower "
                       "catches softer speech), e.g. vad_threshold=0.6.")
    return number


def check_end_silence_ms(value) -> float:
    """As check_vad_threshold, for END_SILENCE_MS_RANGE."""
    lo, hi = END_SILENCE_MS_RANGE
    number = _as_number(value)
    if not lo <= number <= hi:
        raise BadInput(f"The end-of-speech silence {value!r} ms is not usable: give how many "
                       f"milliseconds of pause end an utterance, from {lo} to {hi} (default "
                       f"{END_SILENCE_MS_DEFAULT}; longer keeps sentences with pauses in one "
                       "line, but each line comes later), e.g. end_silence_ms=800.")
    return number


def stream_tuning(vad_threshold=None, end_silence_ms=None) -> dict | None:
    """The worker's Tuning fields for a stream's options (None: the defaults).
    BadInput, with a sentence, for a value out of its range."""
    tuning: dict = {}
    if vad_threshold is not None:
        threshold = check_vad_threshold(vad_threshold)
        tuning["threshold"] = threshold
        tuning["neg_threshold"] = max(NEG_THRESHOLD_FLOOR, threshold - NEG_THRESHOLD_GAP)
    if end_silence_ms is not None:
        tuning["min_silence_s"] = check_end_silence_ms(end_silence_ms) / 1000.0
    return tuning or None


# --------------------------------------------------------- service -> worker
def transcribe_file(data: bytes, options: dict) -> dict:
    return {"op": TRANSCRIBE_FILE, "data": data, "options": options}


def utterance(audio: bytes, audio_format: str, sample_rate: int, options: dict,
              padding_ms: int, use_context_buffer: bool, use_text_context: bool,
              trace_id: str, state: dict | None = None) -> dict:
    return {"op": UTTERANCE, "audio": audio, "audio_format": audio_format,
            "sample_rate": sample_rate, "options": options, "padding_ms": padding_ms,
            "use_context_buffer": use_context_buffer, "use_text_context": use_text_context,
            "trace_id": trace_id, "state": state}


def stream_open(stream: str, sample_rate: int, language: str | None,
                tuning: dict | None = None) -> dict:
    return {"op": STREAM_OPEN, "stream": stream, "sample_rate": sample_rate,
            "language": language, "tuning": tuning}


def stream_feed(stream: str, pcm: bytes) -> dict:
    return {"op": STREAM_FEED, "stream": stream, "pcm": pcm}


def stream_flush(stream: str) -> dict:
    return {"op": STREAM_FLUSH, "stream": stream}


def stream_close(stream: str) -> dict:
    return {"op": STREAM_CLOSE, "stream": stream}


def stop() -> dict:
    return {"op": STOP}


# --------------------------------------------------------- worker -> service
def ready(info: dict) -> dict:
    return {"event": READY, "info": info}


def load_failed(message: str) -> dict:
    return {"event": LOAD_FAILED, "message": message}


def reply(rid, result) -> dict:
    return {"id": rid, "ok": True, "result": result}


def failure(rid, status: int, message: str) -> dict:
    return {"id": rid, "ok": False, "status": status, "message": message}
