"""Bad adjustments get a clear 4xx problem naming the field and the rule, and write nothing."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal

pytestmark = pytest.mark.e2e


def _ledger_and_stock(settings: Settings, location_id: str, meal_id: str) -> tuple[int, Any]:
    with psycopg.connect(settings.pg_dsn) as conn:
        count = conn.execute(
            "SELECT count(*) FROM inventory.adjustments WHERE location_id = %s AND meal_id = %s", [location_id, meal_id]
        ).fetchone()
        stock = conn.execute(
            "SELECT on_hand, reserved FROM inventory.stock WHERE location_id = %s AND meal_id = %s",
            [location_id, meal_id],
        ).fetchone()
    assert count is not None
    return count[0], stock


@pytest.fixture
def stocked(stack: Settings, admin_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    with command_client(stack, admin_token) as cmd:
        meal, loc = new_meal(cmd), new_location(cmd)
        r = cmd.post(
            "/inventory/adjustments",
            json={"location_id": loc["id"], "meal_id": meal["id"], "delta": 5, "reason": "replenish"},
        )
        assert r.status_code == 201
    return meal, loc


def _post(stack: Settings, token: str, body: dict[str, Any]) -> Any:
    with command_client(stack, token) as cmd:
        return cmd.post("/inventory/adjustments", json=body)


def test_negative_stock_is_409_and_writes_nothing(stack: Settings, admin_token: str, stocked: Any) -> None:
    meal, loc = stocked
    before = _ledger_and_stock(stack, loc["id"], meal["id"])
    r = _post(stack, admin_token, {"location_id": loc["id"], "meal_id": meal["id"], "delta": -6, "reason": "remove"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["errors"][0]["field"] == "delta" and "never below zero" in problem["errors"][0]["rule"]
    assert problem["on_hand"] == 5
    assert _ledger_and_stock(stack, loc["id"], meal["id"]) == before == (1, (5, 0))


@pytest.mark.parametrize("missing", ["location_id", "meal_id"])
def test_unknown_reference_is_422_naming_the_field_and_writes_nothing(
    stack: Settings, admin_token: str, stocked: Any, missing: str
) -> None:
    meal, loc = stocked
    body = {
        "location_id": loc["id"],
        "meal_id": meal["id"],
        "delta": 1,
        "reason": "replenish",
        missing: str(uuid.uuid4()),
    }
    r = _post(stack, admin_token, body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"] == [
        {"field": missing, "rule": r.json()["errors"][0]["rule"], "message": r.json()["detail"]}
    ]
    assert r.json()["errors"][0]["rule"].startswith("must reference an existing")
    assert _ledger_and_stock(stack, body["location_id"], body["meal_id"]) == (0, None)
    assert _ledger_and_stock(stack, loc["id"], meal["id"]) == (1, (5, 0))


def test_delta_sign_must_fit_reason_422(stack: Settings, admin_token: str, stocked: Any) -> None:
    meal, loc = stocked
    r = _post(stack, admin_token, {"location_id": loc["id"], "meal_id": meal["id"], "delta": -1, "reason": "replenish"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "delta"
    assert _ledger_and_stock(stack, loc["id"], meal["id"]) == (1, (5, 0))


def test_malformed_body_is_422_and_writes_nothing(stack: Settings, admin_token: str, stocked: Any) -> None:
    meal, loc = stocked
    r = _post(stack, admin_token, {"location_id": loc["id"], "meal_id": meal["id"], "delta": "lots"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"delta", "reason"}
    assert _ledger_and_stock(stack, loc["id"], meal["id"]) == (1, (5, 0))
