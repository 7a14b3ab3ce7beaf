"""A real headless browser for the console: Debian's chromium (installed by the setup path) driven by Playwright
for Python. Playwright never downloads a browser here; a fresh profile per test session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from farmacy.auth import Role
from farmacy.settings import ROOT, Settings
from tests.support.tokens import provider_token

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Package scope, not session: while a sync Playwright is open its event loop counts as running in this thread, so
# every later test that calls asyncio.run() would fail. It closes when the last browser test is done.
@pytest.fixture(scope="package")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail("chromium missing: `bin/farmacy test` installs it (Debian packages chromium, chromium-driver)")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def console(stack: Settings, browser_context: BrowserContext) -> Iterator[Page]:
    """A page logged in to the console through its login form."""
    browser_context.clear_cookies()  # each test logs in afresh
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    base = f"http://127.0.0.1:{stack.ops_port}"
    page.goto(f"{base}/console")
    assert page.url.endswith("/console/login")  # no session yet
    page.fill("#token", provider_token(stack, Role.OPERATOR, "browser-operator"))
    page.click("#login")
    page.wait_for_url(f"{base}/console")
    assert "token" not in page.url
    try:
        yield page
    finally:
        page.close()


def screenshot(page: Page, name: str, tmp: Path) -> Path:
    """Saves a screenshot: into docs/ when FARMACY_SCREENSHOTS=1 (to refresh the README's), else a temp dir."""
    target = (ROOT / "docs" if os.environ.get("FARMACY_SCREENSHOTS") == "1" else tmp) / f"console-{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target
