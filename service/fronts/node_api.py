"""POST /utterance and POST /reset: the API of the node's old
faster_whisper_vad_service, so the node can use this service unchanged
(docs/replacing-the-node.md).

The stream state those routes name (VAD state, audio context, text context)
lives here, in the service process, and travels to the worker with each
request: a worker restart loses none of it.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import HTTPConnection

from service import languages, protocol
from service.config import ServiceConfig
from service.errors import BadInput, Busy, ServiceError
from service.fronts.deps import get_config, get_supervisor
from service.pcm import check_rate
from service.sizes import mib

log = logging.getLogger("asr.node_api")

PARTS = ("vad", "context_audio", "text_context")


class UtteranceRequest(BaseModel):
    # Fields the node may add later are accepted and ignored, like the ones below.
    model_config = ConfigDict(extra="ignore")

    job_id: str
    src_lang: str | None = Field("auto", description="'auto' (or null) detects the language, "
                                 "or takes `language`.")
    audio: str = Field(..., description="Base64 of the audio bytes.")
    audio_format: str | None = Field("pcm16", description="'pcm16' (raw 16-bit LE mono), 'opus' "
                                     "(uint16-LE length-prefixed Opus packets, or an Ogg/WebM "
                                     "file), or an encoded file: wav, mp3, flac, ogg, webm, m4a.")
    sample_rate: int | None = Field(16000, description="Rate of pcm16 audio; encoded files "
                                    "carry their own.")
    language: str | None = None
    task: Literal["transcribe", "translate"] | None = "transcribe"
    beam_size: int | None = Field(5, ge=1, le=32)
    condition_on_previous_text: bool | None = False
    best_of: int | None = Field(None, ge=1, le=32)
    temperature: float | list[float] | None = None
    patience: float | None = Field(None, gt=0)
    compression_ratio_threshold: float | None = None
    log_prob_threshold: float | None = None
    no_speech_threshold: float | None = Field(None, ge=0, le=1)
    use_context_buffer: bool | None = True
    use_text_context: bool | None = True
    padding_ms: int | None = Field(None, ge=0, le=5000)
    trace_id: str | None = None
    # Sent by the node, not used for recognition.
    tgt_lang: Any = None
    features: Any = None
    mode: Any = None
    lang_a: Any = None
    lang_b: Any = None
    auto_langs: Any = None
    context_text: Any = None
    enable_streaming_asr: Any = None
    partial_update_interval_ms: Any = None
    skip_text_dedup: Any = None


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reset_vad: bool = True
    reset_context: bool = True
    reset_text_context: bool = True


class StreamState:
    """The one stream the node talks about. Utterances run one at a time in
    arrival order, so each starts from the state the previous one left; a
    /reset during an utterance wins over what that utterance brings back."""

    def __init__(self, max_waiting: int):
        self.values: dict[str, Any] = {k: None for k in PARTS}
        self.resets: dict[str, int] = {k: 0 for k in PARTS}
        self.lock = asyncio.Lock()
        self.waiting = 0
        self.max_waiting = max_waiting

    def snapshot(self) -> tuple[dict, dict]:
        return dict(self.values), dict(self.resets)

    def store(self, new: dict, resets_before: dict) -> None:
        for k in PARTS:
            if self.resets[k] == resets_before[k]:
                self.values[k] = new.get(k)

    def reset(self, parts) -> None:
        for k in parts:
            self.values[k] = None
            self.resets[k] += 1


router = APIRouter()


async def get_stream(conn: HTTPConnection) -> StreamState:
    """The one StreamState, which build_app puts on app.state."""
    return conn.app.state.node_stream


@router.post("/utterance", tags=["node"], summary="Transcribe one utterance (the node's API)")
async def utterance(req: UtteranceRequest, supervisor=Depends(get_supervisor),
                    cfg: ServiceConfig = Depends(get_config),
                    stream: StreamState = Depends(get_stream)):
    msg = worker_message(req, cfg.max_upload_bytes)
    if stream.waiting >= stream.max_waiting:
        raise Busy(f"The service is busy: {stream.waiting} utterances are already waiting. "
                   "Retry in a few seconds.", retry_after=2)
    stream.waiting += 1
    try:
        async with stream.lock:
            state, resets = stream.snapshot()
            msg["state"] = state
            out = await supervisor.call(msg)
            stream.store(out["state"], resets)
    finally:
        stream.waiting -= 1
    log.info("[%s] utterance %s: %d chars, %.2fs of audio", req.trace_id or req.job_id,
             req.job_id, len(out["response"]["text"]), out["response"]["duration"])
    return out["response"]


@router.post("/reset", tags=["node"], summary="Clear the stream state (the node's API)")
async def reset(req: ResetRequest | None = None, stream: StreamState = Depends(get_stream)):
    req = req or ResetRequest()
    parts = [k for k, on in zip(PARTS, (req.reset_vad, req.reset_context,
                                        req.reset_text_context)) if on]
    stream.reset(parts)
    log.info("reset: %s", ", ".join(parts) or "nothing")
    return {"status": "ok"}


def worker_message(req: UtteranceRequest, max_bytes: int) -> dict:
    """What can be refused without decoding audio is refused here, with a
    sentence, before the audio crosses to the worker; decoding happens there,
    where a decoder crash costs a worker restart, not the service."""
    sample_rate = 16000 if req.sample_rate is None else req.sample_rate
    check_rate(sample_rate)
    data = decode_base64(req.audio, max_bytes)
    if (req.audio_format or "pcm16").strip().lower() in protocol.PCM_FORMATS:
        # Refused here, before a too long recording is resampled in the worker.
        protocol.check_utterance_length(len(data) / 2 / sample_rate)
    try:
        if (req.src_lang or "auto").strip().lower() == "auto":
            language = languages.normalize(req.language)
        else:
            language = languages.normalize(req.src_lang)
    except ValueError as exc:
        raise BadInput(f"The utterance's language is not usable: {exc}") from None
    options: dict[str, Any] = {"language": language, "task": req.task or "transcribe",
                               "beam_size": req.beam_size or 5,
                               "condition_on_previous_text": bool(req.condition_on_previous_text)}
    for name in ("best_of", "temperature", "patience", "compression_ratio_threshold",
                 "log_prob_threshold", "no_speech_threshold"):
        value = getattr(req, name)
        if value is not None:
            options[name] = value
    temps = options.get("temperature")
    if temps is not None:
        for t in temps if isinstance(temps, list) else [temps]:
            if not 0.0 <= t <= 1.0:
                raise BadInput(f"The temperature must be between 0 and 1, not {t}.")
    return protocol.utterance(data, req.audio_format or "pcm16", sample_rate, options,
                              padding_ms=req.padding_ms or 0,
                              use_context_buffer=req.use_context_buffer is not False,
                              use_text_context=req.use_text_context is not False,
                              trace_id=req.trace_id or req.job_id)


def decode_base64(text: str, max_bytes: int) -> bytes:
    compact = "".join(text.split())  # line breaks from some encoders are harmless
    if len(compact) * 3 // 4 > max_bytes:
        raise ServiceError(f"The audio is about {mib(len(compact) * 3 // 4, 1)}, over "
                           f"this service's limit of {mib(max_bytes)}. Send shorter "
                           "utterances, or start the service with a larger --max-upload-mb.",
                           status=413)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(f"The audio field is not valid base64 ({exc}). Send the audio bytes "
                       "base64-encoded with the standard alphabet, e.g. "
                       "Buffer.from(pcm).toString('base64') in Node.") from None
