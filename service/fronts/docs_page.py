"""The pages for people: GET / (what this is, where to go), /docs (Swagger
UI) and /redoc, all working without a network.

FastAPI's own /docs loads Swagger UI from a CDN, so without the internet the
page stays blank. Here its files come from the installed `fastapi-offline`
package's static folder (swagger-ui-bundle.js, swagger-ui.css,
redoc.standalone.js, favicon.png), served under /docs/assets/ with their
content type fixed here (a Windows registry can map .js to text/plain, which
browsers then refuse to run). Only those four names are served: no path from
the request reaches the file system. When the package is missing (the
Windows test lane installs a short wheel list) the pages say so in a sentence
and /openapi.json still describes the API.

GET / is a small page, not a redirect to /docs: it names the service and its
version and links the docs, /health, /v1/status and the OpenAPI schema, and
it still works when the docs cannot (docs/api.md).

None of these pages is in the OpenAPI schema, and none needs the token
(fronts/gate.py keeps them open), like /health: they only describe.
"""
from __future__ import annotations

import functools
import html
import importlib.util
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (get_redoc_html, get_swagger_ui_html,
                                  get_swagger_ui_oauth2_redirect_html)
from fastapi.responses import FileResponse, HTMLResponse

from service import __version__
from service.errors import ServiceError

ASSETS_PACKAGE = "fastapi_offline"
ASSETS_PATH = "/docs/assets"
# The only files served, and the content type each is served with.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
TITLE = "ASR Tray service"

router = APIRouter(include_in_schema=False)


@functools.lru_cache(maxsize=1)
def assets_dir() -> Path | None:
    """fastapi-offline's static folder when it holds every asset, else None.
    Found without importing the package (its module imports nothing we need)."""
    try:
        spec = importlib.util.find_spec(ASSETS_PACKAGE)
    except (ImportError, ValueError):
        return None
    for root in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(root) / "static"
        if all((folder / name).is_file() for name in ASSETS):
            return folder
    return None


def _missing_page(what: str) -> HTMLResponse:
    sentence = (f"The {what} page needs Swagger UI's files from the Python package "
                "fastapi-offline, which is not installed with this service. Install it "
                "(pip install fastapi-offline) and restart the service; meanwhile "
                "/openapi.json describes every route.")
    return HTMLResponse(_page(f"{TITLE}: {what} unavailable",
                              f"<p>{html.escape(sentence)}</p>"
                              '<p><a href="/openapi.json">/openapi.json</a> · '
                              '<a href="/">back</a></p>'), status_code=503)


def _asset(name: str) -> str:
    return f"{ASSETS_PATH}/{name}"


@router.get("/docs")
async def swagger_ui(request: Request):
    if assets_dir() is None:
        return _missing_page("API documentation")
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{TITLE} - API",
        swagger_js_url=_asset("swagger-ui-bundle.js"),
        swagger_css_url=_asset("swagger-ui.css"),
        swagger_favicon_url=_asset("favicon.png"),
        oauth2_redirect_url="/docs/oauth2-redirect",
        # Swagger UI would send the schema to validator.swagger.io for its badge.
        swagger_ui_parameters={"validatorUrl": None})


@router.get("/docs/oauth2-redirect")
async def swagger_ui_redirect():
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request):
    if assets_dir() is None:
        return _missing_page("ReDoc")
    return get_redoc_html(openapi_url=request.app.openapi_url, title=f"{TITLE} - ReDoc",
                          redoc_js_url=_asset("redoc.standalone.js"),
                          redoc_favicon_url=_asset("favicon.png"), with_google_fonts=False)


@router.get(ASSETS_PATH + "/{name}")
async def asset(name: str):
    folder = assets_dir()
    media_type = ASSETS.get(name)
    if folder is None or media_type is None:
        known = ", ".join(ASSETS)
        raise ServiceError(f"There is no documentation file {name[:80]!r} here"
                           + ("" if folder else " (fastapi-offline is not installed)")
                           + f": the files are {known}.", status=404)
    return FileResponse(folder / name, media_type=media_type,
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/")
async def index():
    links = [("/docs", "API documentation (Swagger UI)"), ("/redoc", "the same, as ReDoc"),
             ("/health", "health: 200 once the model is loaded"),
             ("/v1/status", "status: processes, memory, model"),
             ("/openapi.json", "the OpenAPI schema")]
    items = "".join(f'<li><a href="{href}">{href}</a> \u2014 {html.escape(what)}</li>'
                    for href, what in links)
    body = (f"<h1>{TITLE}</h1><p>Version {html.escape(__version__)}. Local speech "
            "recognition: an OpenAI-compatible <code>POST /v1/audio/transcriptions</code> "
            "and live captions over <code>WS /v1/stream</code>.</p>"
            f"<ul>{items}</ul>")
    return HTMLResponse(_page(TITLE, body))


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title>"
            f'<link rel="icon" href="{_asset("favicon.png")}">'
            "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;"
            "padding:0 1em;line-height:1.5}</style></head>"
            f"<body>{body}</body></html>")
