"""The command API's HTTP edge, without a database: validation and auth fail before any handler runs."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from api.command.app import create_app
from farmacy.auth import Role, mint
from farmacy.settings import Settings


@pytest.fixture(scope="module")
def client() -> TestClient:
    # Not entered as a context manager: the lifespan (database pool) never starts.
    # HS256 tokens (the development option): no identity provider runs for the unit tests.
    return TestClient(create_app(Settings(auth_hs256=True)), raise_server_exceptions=True)


def _auth(role: Role = Role.ADMIN) -> dict[str, str]:
    token = mint(
        Settings().jwt_secret.get_secret_value(), "unit", role, uuid.uuid4() if role is Role.CUSTOMER else None
    )
    return {"Authorization": f"Bearer {token}"}


def test_missing_token_is_401_problem_json(client: TestClient) -> None:
    r = client.post("/inventory/adjustments", json={})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 401


def test_customer_on_admin_endpoint_is_403(client: TestClient) -> None:
    r = client.post("/catalog/meals", json={}, headers=_auth(Role.CUSTOMER))
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"


def test_malformed_body_is_422_naming_each_field_and_rule(client: TestClient) -> None:
    body = {"location_id": "nope", "meal_id": str(uuid.uuid4()), "delta": "x", "reason": "stolen"}
    r = client.post("/inventory/adjustments", json=body, headers=_auth())
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["rule"] for e in r.json()["errors"]}
    assert fields == {"location_id": "uuid_parsing", "delta": "int_parsing", "reason": "enum"}


def test_unknown_field_is_rejected(client: TestClient) -> None:
    body = {
        "location_id": str(uuid.uuid4()),
        "meal_id": str(uuid.uuid4()),
        "delta": 1,
        "reason": "replenish",
        "on_hand": 5,
    }
    r = client.post("/inventory/adjustments", json=body, headers=_auth())
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["on_hand"]
