"""/docs and /redoc work without a network: every file their pages load is
served by the service itself (from the fastapi-offline package), with the
right content type; GET / is a page; without the package the pages answer a
sentence instead of failing."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class Links(HTMLParser):
    """Every URL a page loads or links: script src, link href, a href, and
    the spec URL ReDoc reads."""

    def __init__(self):
        super().__init__()
        self.loaded: list[str] = []
        self.linked: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.loaded.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            self.loaded.append(attrs["href"])
        elif tag == "redoc" and attrs.get("spec-url"):
            self.loaded.append(attrs["spec-url"])
        elif tag == "a" and attrs.get("href"):
            self.linked.append(attrs["href"])


def parse(html: str) -> Links:
    links = Links()
    links.feed(html)
    return links


@pytest.fixture(scope="module")
def svc(module_service_factory):
    return module_service_factory()


@pytest.mark.parametrize("page, needs", [("/docs", "swagger-ui-bundle.js"),
                                         ("/redoc", "redoc.standalone.js")])
def test_the_docs_pages_load_only_local_files(svc, page, needs):
    r = httpx.get(svc.url + page, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    # No address of another host anywhere in the page, in attributes or scripts.
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", r.text, re.I), r.text
    links = parse(r.text)
    assert any(src.endswith(needs) for src in links.loaded), links.loaded
    for src in links.loaded:
        assert src.startswith("/"), f"{page} loads {src} from elsewhere"
        asset = httpx.get(svc.url + src, timeout=10)
        assert asset.status_code == 200, (src, asset.text[:200])
        ext = src[src.rfind("."):]
        want = CONTENT_TYPES.get(ext, "application/json")
        assert asset.headers["content-type"].startswith(want), (src, asset.headers)
        assert len(asset.content) > 100, src
    if page == "/docs":
        # Swagger UI finds the schema through the page's script, not an attribute.
        assert "url: '/openapi.json'" in r.text
        assert "\"validatorUrl\": null" in r.text


def test_the_index_page_names_the_service_and_links_its_parts(svc):
    r = httpx.get(svc.url + "/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "ASR Tray service" in r.text
    links = parse(r.text).linked
    for href in ("/docs", "/health", "/v1/status", "/openapi.json"):
        assert href in links, links
        assert httpx.get(svc.url + href, timeout=10).status_code == 200, href


def test_only_the_known_doc_files_are_served(svc):
    for name in ("../__init__.py", "core.py", "%2e%2e%2fcore.py", "nothing.js"):
        r = httpx.get(svc.url + "/docs/assets/" + name, timeout=10)
        assert r.status_code == 404, (name, r.status_code)
        assert r.json()["error"]["message"], r.text


def test_the_docs_pages_are_not_in_the_api_schema(svc):
    paths = httpx.get(svc.url + "/openapi.json", timeout=10).json()["paths"]
    assert not [p for p in paths if p == "/" or p.startswith(("/docs", "/redoc"))], paths


def test_without_fastapi_offline_the_pages_say_what_is_missing(service_factory, tmp_path):
    # A package of that name without its static folder stands in front of the
    # installed one (PYTHONPATH comes first): as if it were not installed.
    shadow = tmp_path / "shadow" / "fastapi_offline"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    import os

    from service.safety.markers import without_markers

    env = without_markers(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow.parent),
                                                      env.get("PYTHONPATH")]))
    svc = service_factory(env=env)
    for page in ("/docs", "/redoc"):
        r = httpx.get(svc.url + page, timeout=10)
        assert r.status_code == 503, r.text
        assert "fastapi-offline" in r.text and "/openapi.json" in r.text, r.text
        assert "cdn" not in r.text.lower()
    assert httpx.get(svc.url + "/docs/assets/swagger-ui.css", timeout=10).status_code == 404
    assert httpx.get(svc.url + "/", timeout=10).status_code == 200
    assert httpx.get(svc.url + "/openapi.json", timeout=10).status_code == 200
