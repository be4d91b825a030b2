"""Error answers, in one shape for every HTTP front: the body OpenAI clients
read ({"error": {"message": ...}}) plus FastAPI's "detail", always with a
sentence a person can act on, Starlette's own refusals (unknown route, a form
over its limits) included."""
from __future__ import annotations

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import ServiceError, WorkerUnavailable
from service.sizes import mib
from service.supervision.supervisor import State

# A worker that crashed is back within the restart backoff (0-4 s) plus its
# model load: the client is told to retry after this many seconds.
CRASH_RETRY_AFTER_S = 2
# Supervisor states in which a new worker is on its way (or already there).
_WORKER_COMING = (State.STARTING, State.RESTARTING, State.READY)


def error_response(status: int, message: str, headers: dict | None = None,
                   kind: str = "invalid_request_error") -> JSONResponse:
    if status >= 500:
        kind = "server_error"
    return JSONResponse(status_code=status, headers=headers,
                        content={"error": {"message": message, "type": kind, "code": status},
                                 "detail": message})


def too_large(n_bytes: int | None, limit: int) -> str:
    """The sentence for an upload over --max-upload-mb; `n_bytes` None when
    its size is not known (it was not read to the end)."""
    size = f"The upload is {mib(n_bytes, 1)}, over" if n_bytes is not None else "The upload is over"
    return (f"{size} this service's limit of {mib(limit)}. Send a shorter or compressed "
            "file, or start the service with a larger --max-upload-mb.")


async def service_error(req, exc: ServiceError) -> JSONResponse:
    retry_after = exc.retry_after
    if retry_after is None and isinstance(exc, WorkerUnavailable) and _worker_coming(req):
        retry_after = CRASH_RETRY_AFTER_S  # a crash or restart: the next worker is coming
    headers = {"Retry-After": str(int(retry_after))} if retry_after else None
    return error_response(exc.status, exc.message, headers)


def _worker_coming(req) -> bool:
    """False once the supervisor gave up or the service stops: retrying is then useless."""
    supervisor = getattr(req.app.state, "supervisor", None)
    return getattr(supervisor, "state", None) in _WORKER_COMING


# Starlette's form parser says what it refused, in its own words; these say
# what to do about it. Matched by the start of its message.
_FORM_LIMITS = (
    ("Field exceeded maximum size", "A form field other than the file is over {part} (the "
     "prompt, for example): send short text fields and the audio as the 'file' part."),
    ("Part exceeded maximum size", "A part of the form is over {part}: send short text "
     "fields and the audio as the 'file' part."),
    ("Too many fields", "The form has more fields than the {fields} this service reads: "
     "send only the fields of the API (file, model, language, prompt, temperature, "
     "response_format)."),
    ("Too many files", "The form has more files than the {fields} this service reads: "
     "send one audio file as the 'file' part."),
)
FORM_MAX_PART = 2**20          # Starlette's defaults, which FastAPI applies to forms
FORM_MAX_FIELDS = 1000


async def http_error(req, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's HTTPException (no such route, wrong method, a form it refused),
    in our error shape and with a sentence, its headers (Allow) kept."""
    detail = str(exc.detail or "")
    status = exc.status_code
    method, path = req.scope.get("method", "GET"), req.scope.get("path", "")
    if status == 404:
        message = f"There is nothing at {path[:120]!r}: see /docs for the routes this service has."
    elif status == 405:
        message = (f"{method} is not allowed on {path[:120]!r}"
                   + (f" (use {exc.headers['Allow']})" if exc.headers and "Allow" in exc.headers
                      else "") + ": see /docs.")
    elif detail.startswith("Missing boundary") or detail.startswith("Invalid multipart"):
        message = ("The form could not be read (" + detail.rstrip(".") + "): send it as "
                   "multipart/form-data, as curl -F or any HTTP library's files= does.")
    elif detail == "There was an error parsing the body":
        message = ("The request body could not be read to the end (the client sent it "
                   "incompletely, or stopped): send the request again.")
    else:
        message = next((text.format(part=mib(FORM_MAX_PART), fields=FORM_MAX_FIELDS)
                        for start, text in _FORM_LIMITS if detail.startswith(start)), None)
        if message is None:
            message = (detail.rstrip(".") or f"The request was refused (HTTP {status})") + "."
    return error_response(status, message, dict(exc.headers) if exc.headers else None)


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
