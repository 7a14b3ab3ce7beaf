"""Every API's /docs (Swagger UI) and /redoc (ReDoc) render in a real browser with every request to a host other than
this machine aborted: their scripts, styles, icons and logo come from the API itself (api/common/docs.py), not a
CDN. Nothing is asked of another host, no local asset is missing, and no script fails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, Response, Route, expect

from farmacy.settings import Settings

pytestmark = pytest.mark.browser
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
NETWORK_SCHEMES = {"http", "https", "ws", "wss"}
API_PORTS = {"command": "command_port", "query": "query_port", "ops": "ops_port"}


@dataclass
class OfflinePage:
    page: Page
    blocked: list[str] = field(default_factory=list)  # requests to another host, aborted
    failed: list[str] = field(default_factory=list)  # local requests answered >= 400 or not answered
    errors: list[str] = field(default_factory=list)  # uncaught script errors

    def assert_clean(self) -> None:
        assert not self.blocked, f"the page asked another host: {self.blocked}"
        assert not self.failed, f"local requests failed: {self.failed}"
        assert not self.errors, f"script errors: {self.errors}"


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in NETWORK_SCHEMES or parts.hostname in LOCAL_HOSTS  # data:, blob: are no request


@pytest.fixture
def offline(browser_context: BrowserContext) -> Iterator[OfflinePage]:
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    offline = OfflinePage(page)

    def route(route: Route) -> None:
        if _is_local(route.request.url):
            route.continue_()
        else:
            offline.blocked.append(route.request.url)
            route.abort()

    def request_failed(request: Request) -> None:
        if _is_local(request.url):
            offline.failed.append(f"{request.url}: {request.failure}")

    def response(response: Response) -> None:
        if response.status >= 400 and not urlsplit(response.url).path.endswith("/favicon.ico"):
            offline.failed.append(f"{response.url}: {response.status}")

    page.route("**/*", route)
    page.on("requestfailed", request_failed)
    page.on("response", response)
    page.on("pageerror", lambda error: offline.errors.append(str(error)))
    try:
        yield offline
    finally:
        page.close()


def _api(stack: Settings, api: str) -> tuple[str, str]:
    """The API's base URL and the title its OpenAPI document gives."""
    base = f"http://127.0.0.1:{getattr(stack, API_PORTS[api])}"
    r = httpx.get(f"{base}/openapi.json", timeout=10)
    r.raise_for_status()
    return base, str(r.json()["info"]["title"])


@pytest.mark.parametrize("api", sorted(API_PORTS))
def test_swagger_ui_renders_without_other_hosts(stack: Settings, offline: OfflinePage, api: str) -> None:
    base, title = _api(stack, api)
    offline.page.goto(f"{base}/docs")
    expect(offline.page.locator(".swagger-ui .info .title").first).to_contain_text(title)
    expect(offline.page.locator(".swagger-ui .opblock").first).to_be_visible()
    offline.assert_clean()


@pytest.mark.parametrize("api", sorted(API_PORTS))
def test_redoc_renders_without_other_hosts(stack: Settings, offline: OfflinePage, api: str) -> None:
    base, title = _api(stack, api)
    offline.page.goto(f"{base}/redoc")
    expect(offline.page.locator(".api-content .api-info h1").first).to_contain_text(title)
    expect(offline.page.locator(".api-content h2").first).to_be_visible()
    # The side menu's "API docs by Redocly" logo is one of the bundle's own requests (/redoc/logo-mini.svg).
    offline.page.wait_for_load_state("networkidle")
    offline.assert_clean()
