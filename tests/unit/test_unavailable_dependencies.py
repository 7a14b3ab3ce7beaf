"""A dependency that is down is a 503 with Retry-After (problem+json), never a 500: the master restarting, the view
store unreachable, or answering that it cannot serve yet (starting, no shard available)."""

from __future__ import annotations

import psycopg
import pytest
from elastic_transport import ApiResponseMeta, ConnectionError, HttpHeaders, NodeConfig
from elasticsearch import ApiError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from api.common.problems import install_fallback_handler

FAILURES: dict[str, Exception] = {
    "master-restarting": psycopg.OperationalError("server closed the connection unexpectedly"),
    "master-pool-timeout": PoolTimeout("couldn't get a connection after 30.00 sec"),
    "view-store-unreachable": ConnectionError("Connection refused"),
    "view-store-starting": ApiError(
        "no_shard_available_action_exception",
        ApiResponseMeta(503, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "localhost", 9200)),
        {"error": {"type": "no_shard_available_action_exception"}},
    ),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_fallback_handler(app)

    @app.get("/fail/{name}")
    def fail(name: str) -> None:
        raise FAILURES[name]

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_dependency_down_is_503_with_retry_after(client: TestClient, name: str) -> None:
    r = client.get(f"/fail/{name}")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["Retry-After"] == "1"
    assert r.json()["status"] == 503


def test_anything_else_unexpected_is_still_a_logged_500(client: TestClient) -> None:
    FAILURES["bug"] = RuntimeError("bug")
    assert client.get("/fail/bug").status_code == 500


@pytest.mark.parametrize("name", ["master-restarting", "master-pool-timeout", "view-store-unreachable"])
def test_an_engine_failure_is_answered_without_reraising(name: str) -> None:
    """Handled by its class, not by the catch-all (which Starlette re-raises after answering: a logged traceback
    and a dropped keep-alive connection)."""
    app = FastAPI()
    install_fallback_handler(app)

    @app.get("/fail")
    def fail() -> None:
        raise FAILURES[name]

    r = TestClient(app, raise_server_exceptions=True).get("/fail")
    assert r.status_code == 503
