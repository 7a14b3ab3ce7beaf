"""HTTP clients of the local stack's command and query APIs, and the two records most drives of them start from
(a meal and a location), and a query API of its own beside the stack: shared by the tests and the benchmarks that
drive the running services."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from farmacy.settings import Settings


def command_client(settings: Settings, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{settings.command_port}", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def query_client(settings: Settings, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{settings.query_port}", headers=headers, timeout=15)


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


def _created(r: httpx.Response) -> dict[str, Any]:
    if r.status_code != 201:
        raise RuntimeError(f"{r.request.method} {r.request.url.path} answered {r.status_code}: {r.text[:500]}")
    return dict(r.json())


def new_meal(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": f"Test Meal {uuid.uuid4().hex[:6]}",
        "description": "test",
        "ingredients": ["rice"],
        "allergens": [],
        "dietary_tags": ["vegan"],
        "calories": 400,
        "price_cents": 900,
        **overrides,
    }
    return _created(http.post("/catalog/meals", json=body))


def new_location(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    body = {
        "code": unique_code("SF"),
        "name": "Test Fridge",
        "kind": "smart_fridge",
        "status": "online",
        "address": "1 Test St",
        "city": "Testville",
        "latitude": 40.0,
        "longitude": -89.0,
        **overrides,
    }
    return _created(http.post("/locations", json=body))


@contextmanager
def query_api_beside(settings: Settings, port: int, **overrides: str) -> Iterator[str]:
    """A query API process of its own on ``port``, reading the stack's views, with these settings overridden
    (``FARMACY_<NAME>`` variables, e.g. quota_client_rate="5"); yields its URL once it serves, stops it after."""
    env = {**os.environ, "FARMACY_QUERY_PORT": str(port)}
    env |= {f"FARMACY_{name.upper()}": value for name, value in overrides.items()}
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "api.query"], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the query API on port {port} did not start (exit code {proc.poll()})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
