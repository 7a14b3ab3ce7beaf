"""Quotas on a query API of its own beside the stack (a quota of two requests per client, so the test needs no
flood): the third request of a client is 429 problem+json with Retry-After, another client is still served, and the
refusals are counted in the API's metrics."""

from __future__ import annotations

import socket

import httpx
import pytest

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.api_clients import query_api_beside
from tests.support.tokens import provider_token

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_client_over_its_quota_gets_429_problem_json_with_retry_after(stack: Settings) -> None:
    noisy = {"Authorization": f"Bearer {provider_token(stack, Role.ADMIN, 'quota-noisy')}"}
    quiet = {"Authorization": f"Bearer {provider_token(stack, Role.ADMIN, 'quota-quiet')}"}
    quotas = {"quota_client_rate": "0.05", "quota_client_burst": "2", "query_workers": "1"}
    with query_api_beside(stack, _free_port(), **quotas) as url, httpx.Client(base_url=url, timeout=30) as http:
        path = "/inventory/locations?size=1"
        assert [http.get(path, headers=noisy).status_code for _ in range(2)] == [200, 200]
        r = http.get(path, headers=noisy)
        assert r.status_code == 429, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert 1 <= int(r.headers["retry-after"]) <= 20  # one request more per 20 s at 0.05/s
        body = r.json()
        assert body["status"] == 429 and body["type"] == "https://farmacy.food/problems/too-many-requests"
        assert "client" in body["detail"]
        assert http.get(path, headers=quiet).status_code == 200
        metrics = http.get("/metrics").text
    (line,) = [x for x in metrics.splitlines() if x.startswith("farmacy_http_throttled_total{")]
    assert 'scope="client"' in line and 'service="query-api"' in line and line.endswith(" 1.0"), line
