"""`build_app`: assembles the HTTP API (FastAPI) from the fronts' routers.

Each front is an `APIRouter` in its own module and reads what it needs
(supervisor, config, the per-front state below) from `app.state` through
`Depends` (fronts/deps.py). This module only puts that state in place and
adds the error handlers, the gate (Host, Origin, upload size, token), the
body limit and the routers; it holds no route itself.
"""
from __future__ import annotations

import time
from typing import Callable

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service import __version__
from service.config import ServiceConfig
from service.errors import ServiceError
from service.fronts import (control, docs_page, health, node_api, openai_api, responses,
                            stream_api)
from service.fronts.body_limit import BodyLimit
from service.fronts.gate import Gate
from service.safety.processes import FigureSampler
from service.supervision.supervisor import Supervisor


def build_app(cfg: ServiceConfig, supervisor: Supervisor,
              request_shutdown: Callable[[str], None], url: str | None = None) -> FastAPI:
    """`request_shutdown(why)` asks the service to stop (POST /v1/shutdown);
    `url` is where the service really listens (the port may be one after the
    requested one: --port-search)."""
    # FastAPI's own /docs and /redoc load their files from a CDN: docs_page
    # serves them from a package instead.
    app = FastAPI(title="ASR Tray service", version=__version__, docs_url=None, redoc_url=None,
                  description="Local speech recognition (faster-whisper + Silero VAD), "
                              "OpenAI-compatible. See the project README.")
    state = app.state
    state.cfg = cfg
    state.url = url
    state.supervisor = supervisor
    state.request_shutdown = request_shutdown
    state.started = time.time()
    state.sampler = FigureSampler()                     # keeps CPU % between /v1/status calls
    state.live_streams = set()                          # ids of the WebSocket streams served now
    state.node_stream = node_api.StreamState(max_waiting=cfg.max_queue)

    app.add_exception_handler(ServiceError, responses.service_error)
    app.add_exception_handler(RequestValidationError, responses.validation_error)
    app.add_exception_handler(StarletteHTTPException, responses.http_error)
    # The last added runs first: the gate refuses before the body is counted.
    app.add_middleware(BodyLimit, max_upload_bytes=cfg.max_upload_bytes)
    app.add_middleware(Gate, cfg=cfg)

    app.include_router(health.router)        # /health, /v1/status, /v1/models
    app.include_router(openai_api.router)    # POST /v1/audio/transcriptions
    app.include_router(control.router)       # /v1/worker/restart, /v1/shutdown (token)
    app.include_router(stream_api.router)    # WS /v1/stream
    app.include_router(node_api.router)      # the node's /utterance and /reset
    app.include_router(docs_page.router)     # /, /docs, /redoc and their files (offline)
    return app
