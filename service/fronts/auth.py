"""The service token: one check for every front that needs it.

Control routes always need the token; when the service listens beyond this
computer, every other request does too (fronts/gate.py and the stream).
"""
from __future__ import annotations

import hmac

from fastapi import Depends, Header

from service.config import ServiceConfig
from service.errors import ServiceError
from service.fronts.deps import get_config


def token_ok(cfg: ServiceConfig, authorization: str | None, fallback: str | None = None) -> bool:
    """True when the request carries the service token: in `Authorization:
    Bearer <token>`, or, when there is no such header, in `fallback` (the
    stream's ?token=, for WebSocket clients that cannot set headers).
    The scheme is matched in any case ("bearer" too: RFC 7235). Compared in
    constant time, so the answer's timing does not leak the token."""
    given = bearer(authorization)
    if given is None:
        given = fallback
    return bool(cfg.token and given) and hmac.compare_digest(given.encode(), cfg.token.encode())


def bearer(authorization: str | None) -> str | None:
    """The credentials of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


async def require_token(cfg: ServiceConfig = Depends(get_config),
                        authorization: str | None = Header(default=None)) -> None:
    """Dependency of the control routes."""
    if not token_ok(cfg, authorization):
        raise ServiceError("This control endpoint needs the service token: send "
                           "'Authorization: Bearer <token>' (the token given with --token "
                           "or ASR_TRAY_TOKEN).", status=401)
