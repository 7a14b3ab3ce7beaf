"""Quotas without services: token buckets refill at their rate up to their burst; the middleware answers 429
problem+json with Retry-After per client and per address, and one client over its quota leaves the others alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.common.buckets import TokenBuckets
from api.query.app import create_app
from farmacy.auth import Role, mint
from farmacy.settings import Settings


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    for _ in range(3):
        assert buckets.wait("a", 100.0) == 0
        buckets.take("a")
    assert buckets.wait("a", 100.0) == pytest.approx(0.5)  # one request more in half a second at 2/s
    assert buckets.wait("a", 100.5) == 0
    assert buckets.wait("b", 100.5) == 0  # another key has its own bucket


def test_a_bucket_refills_no_further_than_its_burst() -> None:
    buckets = TokenBuckets(rate=10.0, burst=2)
    buckets.wait("a", 0.0)
    for _ in range(2):
        buckets.wait("a", 1000.0)
        buckets.take("a")
    assert buckets.wait("a", 1000.0) > 0


def test_the_least_recently_used_buckets_are_dropped_beyond_the_bound() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, max_buckets=2)
    for key in ("a", "b"):
        buckets.wait(key, 0.0)
        buckets.take(key)
    buckets.wait("c", 0.0)  # "a" is dropped: it comes back full
    assert buckets.wait("a", 0.0) == 0


class Tripwire:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Elasticsearch was touched (.{name})")


def _client(**quotas: Any) -> TestClient:
    settings = Settings(_env_file=None, auth_hs256=True, **quotas)
    app = create_app(settings)
    app.state.es = Tripwire()
    app.state.watermarks = Tripwire()
    return TestClient(app)


def _auth(subject: str) -> dict[str, str]:
    token = mint(Settings(_env_file=None).jwt_secret.get_secret_value(), subject, Role.CUSTOMER, uuid.uuid4())
    return {"Authorization": f"Bearer {token}"}


def _assert_throttled(r: Any, over: str) -> None:
    assert r.status_code == 429
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["status"] == 429 and body["type"].endswith("/too-many-requests") and over in body["detail"]


def test_a_client_over_its_quota_gets_429_while_another_client_is_served() -> None:
    client = _client(quota_client_rate=0.01, quota_client_burst=2)
    noisy, quiet = _auth("noisy"), _auth("quiet")
    # Customers reading an unknown order: 422 (the id is no UUID) before any view is read, so no engine is needed.
    assert [client.get("/orders/x", headers=noisy).status_code for _ in range(2)] == [422, 422]
    _assert_throttled(client.get("/orders/x", headers=noisy), "client")
    assert client.get("/orders/x", headers=quiet).status_code == 422


def test_an_address_over_its_quota_gets_429() -> None:
    client = _client(quota_address_rate=0.01, quota_address_burst=3)
    assert [client.get("/orders/x", headers=_auth(f"c{i}")).status_code for i in range(3)] == [422] * 3
    _assert_throttled(client.get("/orders/x", headers=_auth("c9")), "address")


def test_requests_refused_by_a_clients_quota_take_nothing_from_its_address() -> None:
    client = _client(quota_client_rate=0.01, quota_client_burst=1, quota_address_rate=0.01, quota_address_burst=3)
    noisy = _auth("noisy")
    assert client.get("/orders/x", headers=noisy).status_code == 422
    for _ in range(10):
        _assert_throttled(client.get("/orders/x", headers=noisy), "client")
    assert [client.get("/orders/x", headers=_auth(f"q{i}")).status_code for i in range(2)] == [422, 422]


def test_health_and_metrics_are_never_throttled() -> None:
    client = _client(quota_address_rate=0.01, quota_address_burst=1)
    client.get("/orders/x")
    assert client.get("/metrics").status_code == 200
