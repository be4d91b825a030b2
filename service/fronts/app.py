"""The HTTP API (FastAPI). Thin: validate, hand to the supervisor, shape the answer.

Every error is a JSON body with a sentence a person can act on, in the shape
OpenAI clients read ({"error": {"message": ...}}) plus FastAPI's "detail".
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from typing import Callable

from fastapi import Depends, FastAPI, File, Form, Header, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse

from service import __version__, formats, languages

from service.safety import gpu
from service.config import ServiceConfig
from service.errors import BadInput, ServiceError
from service.safety.processes import FigureSampler
from service.supervision.supervisor import State, Supervisor

log = logging.getLogger("asr.app")

RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")


def error_response(status: int, message: str, headers: dict | None = None,
                   kind: str = "invalid_request_error") -> JSONResponse:
    if status >= 500:
        kind = "server_error"
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"message": message, "type": kind, "code": status},
                                 "detail": message})


def build_app(cfg: ServiceConfig, supervisor: Supervisor,
              request_shutdown: Callable[[str], None]) -> FastAPI:
    app = FastAPI(title="ASR Tray service", version=__version__,
                  description="Local speech recognition (faster-whisper + Silero VAD), "
                              "OpenAI-compatible. See the project README.")
    app.state.supervisor = supervisor
    app.state.cfg = cfg
    sampler = FigureSampler()
    started = time.time()
    loopback = cfg.host in ("127.0.0.1", "localhost", "::1")

    # ------------------------------------------------------------ errors
    @app.exception_handler(ServiceError)
    async def _service_error(_req, exc: ServiceError):
        headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
        return error_response(exc.status, exc.message, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_req, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            if err.get("type") == "json_invalid":
                pos = err.get("loc", ("body", "?"))[-1]
                return error_response(422, f"The body is not valid JSON (error at character "
                                           f"{pos}): send a JSON object with Content-Type "
                                           "application/json.")
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query"))
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return error_response(422, "The request is not valid: " + "; ".join(parts) + ".")

    @app.middleware("http")
    async def _limit_upload(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > cfg.max_upload_bytes + 64 * 1024:
            return error_response(413, _too_large(int(length)))
        if not loopback and not request.url.path.startswith(("/health", "/docs", "/openapi")):
            if not _token_ok(request.headers.get("authorization")):
                return error_response(401, "This service is reachable beyond this computer, so "
                                           "every request needs 'Authorization: Bearer <token>'.")
        return await call_next(request)

    def _too_large(n: int) -> str:
        return (f"The upload is {n / 2**20:.1f} MiB, over this service's limit of "
                f"{cfg.max_upload_bytes / 2**20:.0f} MiB. Send a shorter or compressed file, "
                "or start the service with a larger --max-upload-mb.")

    def _token_ok(header: str | None) -> bool:
        if not cfg.token or not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), cfg.token.encode())

    def require_token(authorization: str | None = Header(default=None)) -> None:
        if not _token_ok(authorization):
            raise ServiceError("This control endpoint needs the service token: send "
                               "'Authorization: Bearer <token>' (the token given with --token "
                               "or ASR_TRAY_TOKEN).", status=401)

    # ------------------------------------------------------------ health and status
    def worker_view() -> dict:
        s = supervisor
        return {"is_running": s.worker_pid is not None and s.state == State.READY,
                "worker_state": s.state, "worker_pid": s.worker_pid,
                "queue_depth": s.queue_depth, "total_tasks": s.total,
                "completed_tasks": s.completed, "failed_tasks": s.failed,
                "worker_restarts": s.restarts, "avg_wait_ms": s.avg_wait_ms,
                "pending_results": int(s.busy)}

    @app.get("/health")
    async def health():
        ready = supervisor.state == State.READY
        body = {"status": "ok" if ready else supervisor.state,
                "message": supervisor.error,
                "asr_model_loaded": ready, "vad_model_loaded": ready,
                "asr_worker": worker_view(), "model": supervisor.info.get("model"),
                "device": supervisor.info.get("device"), "version": __version__}
        return JSONResponse(status_code=200 if ready else 503, content=body)

    @app.get("/v1/status")
    def status():  # plain def: psutil and NVML calls run in the thread pool, not on the loop
        probe = gpu.probe()
        table = probe.memory_by_pid()
        procs = []
        for role, pid in (("service", os.getpid()), ("worker", supervisor.worker_pid)):
            fig = sampler.sample(pid)
            gpu_bytes = table.get(pid) if pid in table else None
            procs.append({"role": role, "pid": pid,
                          "alive": bool(fig and fig.alive),
                          "rss": fig.rss if fig else None,
                          "cpu_percent": fig.cpu_percent if fig else None,
                          "uptime": round(fig.uptime, 1) if fig and fig.uptime else None,
                          "gpu_memory": gpu_bytes,
                          "gpu_present": pid in table})
        info = supervisor.info
        return {"service_pid": os.getpid(), "worker_pid": supervisor.worker_pid,
                "state": supervisor.state, "error": supervisor.error,
                "restarts": supervisor.restarts, "last_exit_code": supervisor.last_exit,
                "uptime": round(time.time() - started, 1),
                "processes": procs, "gpu": probe.reason if probe.available else "no GPU",
                "model": info.get("model") or cfg.model.model, "model_path": info.get("model_path"),
                "device": info.get("device"), "compute_type": info.get("compute_type"),
                "multilingual": info.get("multilingual"),
                "queue_depth": supervisor.queue_depth, "max_queue": supervisor.max_queue,
                "version": __version__}

    @app.get("/v1/models")
    async def models():
        name = supervisor.info.get("model") or cfg.model.model
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "local"}]}

    # ------------------------------------------------------------ transcription
    @app.post("/v1/audio/transcriptions")
    async def transcriptions(
        file: UploadFile = File(..., description="The audio file to transcribe."),
        model: str = Form("whisper-1", description="Accepted for OpenAI compatibility; the "
                          "service always uses the model it loaded."),
        language: str | None = Form(None),
        prompt: str | None = Form(None),
        temperature: float | None = Form(None),
        response_format: str = Form("json"),
        timestamp_granularities: list[str] | None = Form(None, alias="timestamp_granularities[]"),
    ):
        if response_format not in RESPONSE_FORMATS:
            raise BadInput(f"response_format '{response_format}' is not supported; use one of "
                           f"{', '.join(RESPONSE_FORMATS)}.")
        try:
            lang = languages.normalize(language)
        except ValueError as exc:
            raise BadInput(str(exc)) from None
        if temperature is not None and not 0.0 <= temperature <= 1.0:
            raise BadInput(f"temperature must be between 0 and 1, not {temperature}.")
        data = await file.read(cfg.max_upload_bytes + 1)
        if len(data) > cfg.max_upload_bytes:
            raise ServiceError(_too_large(len(data)), status=413)
        options = {"language": lang, "initial_prompt": prompt or None,
                   "word_timestamps": "word" in (timestamp_granularities or [])}
        if temperature is not None:
            options["temperature"] = temperature
        result = await supervisor.call({"op": "transcribe_file", "data": data, "options": options})
        return render(result, response_format)

    # ------------------------------------------------------------ control
    @app.post("/v1/worker/restart", dependencies=[Depends(require_token)])
    async def restart_worker():
        await supervisor.recycle("restart requested over HTTP")
        ok = await supervisor.wait_ready(timeout=120)
        return {"status": "ok" if ok else supervisor.state, "worker_pid": supervisor.worker_pid,
                "restarts": supervisor.restarts, "message": supervisor.error}

    @app.post("/v1/shutdown", dependencies=[Depends(require_token)])
    async def shutdown():
        request_shutdown("shutdown requested over HTTP")
        return {"status": "stopping"}

    # Routes owned by other modules: the live stream (WS /v1/stream) and the
    # drop-in API of the node this service replaces (/utterance, /reset).
    from service.fronts import node_api, stream_api

    stream_api.install(app, supervisor, cfg)
    node_api.install(app, supervisor, cfg)
    return app


def render(result: dict, response_format: str):
    if response_format == "json":
        return {"text": result["text"]}
    if response_format == "text":
        return PlainTextResponse(result["text"] + "\n")
    if response_format == "srt":
        return PlainTextResponse(formats.to_srt(result["segments"]))
    if response_format == "vtt":
        return PlainTextResponse(formats.to_vtt(result["segments"]), media_type="text/vtt")
    words = [w for s in result["segments"] for w in s.get("words", [])]
    body = {"task": "transcribe",
            "language": languages.LANGUAGES.get(result["language"], result["language"]),
            "duration": result["duration"], "text": result["text"],
            "segments": [{k: v for k, v in s.items() if k != "words"} for s in result["segments"]]}
    if words:
        body["words"] = [{"word": w["word"].strip(), "start": w["start"], "end": w["end"]}
                         for w in words]
    return body
