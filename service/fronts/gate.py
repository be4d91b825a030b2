"""The HTTP middleware every plain request passes first: refuse an upload
that announces more than --max-upload-mb before its body is read, and, when
the service listens beyond this computer, a request without the token
(/health and the docs stay open, so a client can see the service is there)."""
from __future__ import annotations

from fastapi import Request

from service.fronts.auth import token_ok
from service.fronts.responses import error_response, too_large

# Multipart framing around the file itself: an upload exactly at the limit passes.
FORM_OVERHEAD = 64 * 1024
OPEN_PATHS = ("/health", "/docs", "/openapi")


async def gate(request: Request, call_next):
    cfg = request.app.state.cfg
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > cfg.max_upload_bytes + FORM_OVERHEAD:
        return error_response(413, too_large(int(length), cfg.max_upload_bytes))
    if not cfg.loopback and not request.url.path.startswith(OPEN_PATHS):
        if not token_ok(cfg, request.headers.get("authorization")):
            return error_response(401, "This service is reachable beyond this computer, so "
                                       "every request needs 'Authorization: Bearer <token>'.")
    return await call_next(request)
