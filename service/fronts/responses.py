"""Error answers, in one shape for every HTTP front: the body OpenAI clients
read ({"error": {"message": ...}}) plus FastAPI's "detail", always with a
sentence a person can act on."""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from service.errors import ServiceError
from service.sizes import mib


def error_response(status: int, message: str, headers: dict | None = None,
                   kind: str = "invalid_request_error") -> JSONResponse:
    if status >= 500:
        kind = "server_error"
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"message": message, "type": kind, "code": status},
                                 "detail": message})


def too_large(n_bytes: int, limit: int) -> str:
    """The sentence for an upload over --max-upload-mb."""
    return (f"The upload is {mib(n_bytes, 1)}, over this service's limit of "
            f"{mib(limit)}. Send a shorter or compressed file, "
            "or start the service with a larger --max-upload-mb.")


async def service_error(_req, exc: ServiceError) -> JSONResponse:
    headers = {"Retry-After": str(int(exc.retry_after))} if exc.retry_after else None
    return error_response(exc.status, exc.message, headers)


async def validation_error(_req, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's list of field errors, as one sentence."""
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
