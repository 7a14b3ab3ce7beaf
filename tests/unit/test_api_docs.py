"""Every API's /docs and /redoc load their scripts and styles from the API itself (api/common/docs.py), never from a
CDN: the pages name no other host, and every asset they name answers 200 with a non-empty body of its type."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.command.app import create_app as command_app
from api.common.docs import STATIC, install_docs
from api.ops.app import create_app as ops_app
from api.query.app import create_app as query_app
from farmacy.settings import Settings

APPS: dict[str, Callable[[Settings], FastAPI]] = {"command": command_app, "query": query_app, "ops": ops_app}
TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}


class _Assets(HTMLParser):
    """The URLs a page loads: scripts, stylesheets, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        url = values.get("src") if tag == "script" else values.get("href") if tag == "link" else None
        if url:
            self.urls.append(url)


def _assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


@pytest.fixture(scope="module", params=sorted(APPS))
def app(request: pytest.FixtureRequest) -> FastAPI:
    return APPS[request.param](Settings(_env_file=None))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> TestClient:
    return TestClient(app)  # no lifespan: nothing is connected


def _assert_served(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 200, url
    assert r.content.strip(), f"{url} is empty"
    suffix = "." + url.rsplit(".", 1)[-1]
    assert TYPES[suffix] in r.headers["content-type"], (url, r.headers["content-type"])


@pytest.mark.parametrize(
    ("page", "kinds"),
    [("/docs", {".js", ".css", ".png"}), ("/redoc", {".js", ".png"})],
)
def test_docs_pages_load_only_local_assets(client: TestClient, app: FastAPI, page: str, kinds: set[str]) -> None:
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert re.search(r"(?i)\b(?:https?:)?//[a-z0-9]", r.text) is None, "the page names another host"
    assert "fonts.googleapis" not in r.text
    urls = _assets(r.text)
    assert {"." + u.rsplit(".", 1)[-1] for u in urls} == kinds, urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        _assert_served(client, url)
    assert app.title in r.text
    assert "'/openapi.json'" in r.text or 'spec-url="/openapi.json"' in r.text
    assert client.get("/openapi.json").status_code == 200


def test_swagger_ui_does_not_call_the_online_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_swagger_ui_oauth2_redirect_page_is_served(client: TestClient) -> None:
    r = client.get("/docs/oauth2-redirect")
    assert r.status_code == 200 and "oauth2" in r.text.lower()


def test_redoc_logo_is_served_where_the_bundle_looks_for_it(client: TestClient) -> None:
    """The bundle loads its logo from the page's path + /logo-mini.svg (patched off ReDoc's CDN by the package)."""
    bundle = (STATIC / "redoc" / "redoc.standalone.js").read_text(encoding="utf-8")
    assert 'window.location.pathname+"/logo-mini.svg"' in bundle
    assert "cdn.redoc.ly" not in bundle
    _assert_served(client, "/redoc/logo-mini.svg")


def test_asset_licences_are_served_with_them(client: TestClient) -> None:
    assert "Apache License" in client.get("/docs/LICENSE").text  # Swagger UI
    assert "ReDoc" in client.get("/redoc/redoc.standalone.js.LICENSE.txt").text


def test_asset_urls_follow_the_root_path_a_proxy_serves_the_api_under(app: FastAPI) -> None:
    client = TestClient(app, root_path="/api")
    docs = client.get("/docs").text
    assert set(_assets(docs)) == {
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui.css",
        "/api/docs/fastapi/favicon.png",
    }
    assert "'/api/openapi.json'" in docs
    redoc = client.get("/redoc").text
    assert set(_assets(redoc)) == {"/api/redoc/redoc.standalone.js", "/api/docs/fastapi/favicon.png"}


def test_install_docs_needs_the_cdn_pages_off() -> None:
    with pytest.raises(ValueError, match="docs_url=None"):
        install_docs(FastAPI())
