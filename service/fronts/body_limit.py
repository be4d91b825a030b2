"""The body limit (--max-upload-mb) for every route, whatever the framing.

A body that announces its size (Content-Length) is refused by fronts/gate.py
before a byte of it is read. A chunked body announces nothing: left alone,
Starlette spools a whole multipart upload to a temporary file, and a JSON
route reads the whole body into memory, before any route could look at its
size. So this pure ASGI middleware wraps `receive` and counts the body bytes
as they arrive; the moment the count passes the limit it answers 413 itself,
and the app then sees the client as gone (http.disconnect) and nothing it
sends goes out. Nothing more of the body is read: the answer closes the
connection.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.fronts.responses import error_response
from service.sizes import mib

# Multipart framing around the file itself, and the base64 of /utterance's
# JSON: an upload exactly at the limit passes.
FORM_OVERHEAD = 64 * 1024


def body_limit(max_upload_bytes: int) -> int:
    """Most body bytes a request may carry."""
    return max_upload_bytes + FORM_OVERHEAD


def over_limit_sentence(limit: int) -> str:
    """For a body whose size was never announced: it says the limit, not a
    total that was not read."""
    return (f"The request body is over this service's limit of {mib(limit)}, so it was "
            "not read further. Send a shorter or compressed file, or start the service "
            "with a larger --max-upload-mb.")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.max_upload_bytes)
        seen = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        await error_response(413, over_limit_sentence(self.max_upload_bytes),
                                             headers={"Connection": "close"})(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # our 413 went out: what the app answers to the "disconnect" does not
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
