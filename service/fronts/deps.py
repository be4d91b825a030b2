"""What a route needs, handed over by FastAPI's `Depends`.

`build_app` puts everything a front needs on `app.state` once; these read it
from there, so a router module holds routes and no globals. They take an
`HTTPConnection` (not a `Request`) so that the WebSocket route can use them
too, and they are `async def` so FastAPI runs them on the loop instead of
sending each one to the thread pool.
"""
from __future__ import annotations

from starlette.requests import HTTPConnection

from service.config import ServiceConfig
from service.supervision.supervisor import Supervisor


async def get_config(conn: HTTPConnection) -> ServiceConfig:
    return conn.app.state.cfg


async def get_supervisor(conn: HTTPConnection) -> Supervisor:
    return conn.app.state.supervisor


async def get_live_streams(conn: HTTPConnection) -> set[str]:
    """Ids of the WebSocket streams being served now (WS /v1/stream keeps it)."""
    return conn.app.state.live_streams
