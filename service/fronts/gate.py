"""The gate every request passes first (pure ASGI, HTTP and WebSocket alike),
refusing before the app runs or a byte of the body is read:

  421  a Host that does not name this computer, on a loopback bind
  403  an Origin of a foreign web page, on a WebSocket handshake or a request
       that can change something (fronts/origin_policy.py says why)
  413  an HTTP body that announces more than --max-upload-mb (a body that
       announces nothing is counted as it arrives: fronts/body_limit.py)
  401  a plain HTTP request without the token, when the service listens
       beyond this computer (/health, / and the docs stay open, so a client
       can see the service is there; the stream checks its own ?token=)

A refused WebSocket handshake gets a plain HTTP answer (ASGI's WebSocket
denial response) with the same JSON body, so the client can read why.
"""
from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from service.config import ServiceConfig
from service.fronts.auth import token_ok
from service.fronts.body_limit import body_limit
from service.fronts.origin_policy import SAFE_METHODS, host_refusal, origin_refusal
from service.fronts.responses import error_response, too_large

# Beyond loopback these need no token: they say the service is there and
# describe it (the docs, their files under /docs/assets, the index page).
OPEN_PATHS = ("/health", "/docs", "/openapi", "/redoc")
OPEN_EXACT = ("/",)
UVICORN_NO_HANDSHAKE = "ASGI callable returned without completing handshake."


class _DenialNoise(logging.Filter):
    """uvicorn's websockets-sansio protocol logs an ERROR after every denial
    response, though the client got it (uvicorn PR #3138, not released): one
    such line is dropped per handshake this gate refused, and no other."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if self.pending and record.getMessage() == UVICORN_NO_HANDSHAKE:
            self.pending -= 1
            return False
        return True


_denial_noise = _DenialNoise()


class Gate:
    def __init__(self, app: ASGIApp, cfg: ServiceConfig) -> None:
        self.app = app
        self.cfg = cfg
        logging.getLogger("uvicorn.error").addFilter(_denial_noise)  # once: same object

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            refusal = self.refusal(scope)
            if refusal is not None:
                status, message = refusal
                if scope["type"] == "websocket":
                    # (bounded: with a fixed uvicorn nothing takes them back)
                    _denial_noise.pending = min(_denial_noise.pending + 1, 8)
                await error_response(status, message)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        cfg = self.cfg
        headers = Headers(scope=scope)
        host = headers.get("host")
        server = scope.get("server")
        why = host_refusal(host, server[1] if server else None, cfg)
        if why:
            return 421, why
        websocket = scope["type"] == "websocket"
        if websocket or scope.get("method", "GET") not in SAFE_METHODS:
            why = origin_refusal(headers.get("origin"), host, scope.get("scheme", "http"), cfg)
            if why:
                return 403, why
        if websocket:
            return None
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > body_limit(cfg.max_upload_bytes):
            return 413, too_large(int(length), cfg.max_upload_bytes)
        path = scope.get("path", "")
        if not cfg.loopback and not (path.startswith(OPEN_PATHS) or path in OPEN_EXACT):
            if not token_ok(cfg, headers.get("authorization")):
                return 401, ("This service is reachable beyond this computer, so every "
                             "request needs 'Authorization: Bearer <token>'.")
        return None
