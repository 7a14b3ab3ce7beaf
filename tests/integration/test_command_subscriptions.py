"""Subscription commands over HTTP: plans, subscribing, pause / resume / cancel, ownership."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.api import new_location
from tests.support.commands import (
    assert_problem,
    client,
    created,
    customer_token,
    fetch_one,
    if_match,
    new_plan,
    plan_body,
    register_customer,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def location(admin: httpx.Client) -> dict[str, Any]:
    return new_location(admin)


@pytest.fixture
def plan(admin: httpx.Client) -> dict[str, Any]:
    return new_plan(admin)


@pytest.fixture
def subscription(as_customer: httpx.Client, plan: dict[str, Any], location: dict[str, Any]) -> dict[str, Any]:
    return created(as_customer.post("/subscriptions", json={"plan_id": plan["id"], "location_id": location["id"]}))


def _today() -> date:
    return datetime.now(UTC).date()


def _row(settings: Settings, subscription_id: str) -> tuple[Any, ...] | None:
    return fetch_one(
        settings,
        "SELECT status, paused_until, next_delivery_on, plan_id::text, version "
        "FROM subscription.subscriptions WHERE id = %s",
        [subscription_id],
    )


def test_admin_creates_a_plan_201_active(stack: Settings, admin: httpx.Client) -> None:
    body = plan_body(meals_per_week=3, price_cents=2999)
    r = admin.post("/subscription/plans", json=body)
    plan = created(r)
    assert plan["status"] == "active" and plan["code"] == body["code"] and plan["version"] == 1
    assert r.headers["Location"] == f"/subscription/plans/{plan['id']}" and r.headers["ETag"] == '"1"'
    row = fetch_one(
        stack, "SELECT code, meals_per_week, price_cents, status FROM subscription.plans WHERE id = %s", [plan["id"]]
    )
    assert row == (body["code"], 3, 2999, "active")


def test_customer_subscribes_active_with_next_delivery_on_a_monday_after_today(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], plan: dict[str, Any], location: Any
) -> None:
    r = as_customer.post("/subscriptions", json={"plan_id": plan["id"], "location_id": location["id"]})
    sub = created(r)
    assert sub["status"] == "active" and sub["customer_id"] == customer["id"] and sub["paused_until"] is None
    next_delivery = date.fromisoformat(sub["next_delivery_on"])
    assert next_delivery.weekday() == 0 and _today() < next_delivery <= _today() + timedelta(days=7)
    assert r.headers["Location"] == f"/subscriptions/{sub['id']}"
    assert _row(stack, sub["id"]) == ("active", None, next_delivery, plan["id"], 1)


def test_pause_with_until_in_the_past_is_422_on_until_and_changes_nothing(
    stack: Settings, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    before = _row(stack, subscription["id"])
    until = (_today() - timedelta(days=3)).isoformat()
    r = as_customer.post(f"/subscriptions/{subscription['id']}/pause", json={"until": until})
    assert_problem(r, 422, "until", rule="must be within the next", type_="invalid-input")
    assert _row(stack, subscription["id"]) == before


def test_pause_makes_it_paused_until_the_date(
    stack: Settings, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    until = _today() + timedelta(days=20)
    r = as_customer.post(
        f"/subscriptions/{subscription['id']}/pause", json={"until": until.isoformat()}, headers=if_match(1)
    )
    sub = created(r, 200)
    assert sub["status"] == "paused" and sub["paused_until"] == until.isoformat() and sub["version"] == 2
    next_delivery = date.fromisoformat(sub["next_delivery_on"])
    assert next_delivery.weekday() == 0 and next_delivery >= until
    row = _row(stack, subscription["id"])
    assert row is not None and row[:2] == ("paused", until)


def test_resume_makes_a_paused_subscription_active(
    stack: Settings, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    until = (_today() + timedelta(days=20)).isoformat()
    created(as_customer.post(f"/subscriptions/{subscription['id']}/pause", json={"until": until}), 200)
    sub = created(as_customer.post(f"/subscriptions/{subscription['id']}/resume"), 200)
    assert sub["status"] == "active" and sub["paused_until"] is None and sub["version"] == 3
    assert date.fromisoformat(sub["next_delivery_on"]).weekday() == 0
    row = _row(stack, subscription["id"])
    assert row is not None and row[:2] == ("active", None)


def test_cancel_makes_it_cancelled_and_cancelling_again_is_409(
    stack: Settings, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    sub = created(as_customer.post(f"/subscriptions/{subscription['id']}/cancel"), 200)
    assert sub["status"] == "cancelled" and sub["next_delivery_on"] is None
    r = as_customer.post(f"/subscriptions/{subscription['id']}/cancel")
    assert_problem(r, 409, "status", rule="valid subscription status transition", type_="invalid-transition")
    row = _row(stack, subscription["id"])
    assert row is not None and (row[0], row[4]) == ("cancelled", 2)


def test_patch_subscription_to_a_retired_plan_is_409_on_plan_id(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    retired = new_plan(admin)
    created(admin.post(f"/subscription/plans/{retired['id']}/retire"), 200)
    r = as_customer.patch(f"/subscriptions/{subscription['id']}", json={"plan_id": retired["id"]}, headers=if_match(1))
    assert_problem(r, 409, "plan_id", rule="plan must be active", type_="conflict")
    assert _row(stack, subscription["id"]) == (
        "active",
        None,
        date.fromisoformat(subscription["next_delivery_on"]),
        subscription["plan_id"],
        1,
    )


def test_patch_subscription_to_an_active_plan_is_200(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    other = new_plan(admin)
    r = as_customer.patch(f"/subscriptions/{subscription['id']}", json={"plan_id": other["id"]}, headers=if_match(1))
    sub = created(r, 200)
    assert sub["plan_id"] == other["id"] and sub["version"] == 2 and r.headers["ETag"] == '"2"'
    row = _row(stack, subscription["id"])
    assert row is not None and (row[3], row[4]) == (other["id"], 2)


def test_patch_subscription_to_a_decommissioned_location_is_409_on_location_id(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, subscription: dict[str, Any]
) -> None:
    gone = new_location(admin)
    created(admin.post(f"/locations/{gone['id']}/status", json={"status": "decommissioned"}), 200)
    before = _row(stack, subscription["id"])
    r = as_customer.patch(f"/subscriptions/{subscription['id']}", json={"location_id": gone["id"]}, headers=if_match(1))
    assert_problem(r, 409, "location_id", rule="must not be decommissioned or closed", type_="conflict")
    assert _row(stack, subscription["id"]) == before


def test_patch_a_retired_plan_is_409_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    plan = new_plan(admin, price_cents=1000)
    created(admin.post(f"/subscription/plans/{plan['id']}/retire"), 200)
    r = admin.patch(f"/subscription/plans/{plan['id']}", json={"price_cents": 1}, headers=if_match(2))
    problem = assert_problem(r, 409, None, type_="conflict")
    assert "retired" in problem["detail"]
    assert fetch_one(
        stack, "SELECT price_cents, status, version FROM subscription.plans WHERE id = %s", [plan["id"]]
    ) == (1000, "retired", 2)


def test_subscribing_to_a_retired_plan_is_409_on_plan_id(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, customer: dict[str, Any], location: Any
) -> None:
    plan = new_plan(admin)
    created(admin.post(f"/subscription/plans/{plan['id']}/retire"), 200)
    r = as_customer.post("/subscriptions", json={"plan_id": plan["id"], "location_id": location["id"]})
    assert_problem(r, 409, "plan_id", rule="plan must be active", type_="conflict")
    rows = fetch_one(stack, "SELECT count(*) FROM subscription.subscriptions WHERE customer_id = %s", [customer["id"]])
    assert rows == (0,)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "pause", {"until": (datetime.now(UTC).date() + timedelta(days=10)).isoformat()}),
        ("POST", "resume", None),
        ("POST", "cancel", None),
        ("PATCH", "", {}),
    ],
)
def test_another_customers_subscription_is_404_and_unchanged(
    stack: Settings, subscription: dict[str, Any], method: str, path: str, body: dict[str, Any] | None
) -> None:
    intruder = register_customer(stack)
    before = _row(stack, subscription["id"])
    url = f"/subscriptions/{subscription['id']}" + (f"/{path}" if path else "")
    with client(stack, customer_token(stack, intruder["id"])) as http:
        r = http.request(method, url, json=body, headers=if_match(1))
    problem = assert_problem(r, 404, None, type_="not-found")
    assert "does not exist" in problem["detail"]
    assert _row(stack, subscription["id"]) == before


def test_customer_cannot_subscribe_for_another_customer_id_403(
    stack: Settings, as_customer: httpx.Client, plan: dict[str, Any], location: Any
) -> None:
    other = register_customer(stack)
    body = {"customer_id": other["id"], "plan_id": plan["id"], "location_id": location["id"]}
    r = as_customer.post("/subscriptions", json=body)
    assert_problem(r, 403, "customer_id", rule="must be your own id", type_="forbidden")
    rows = fetch_one(stack, "SELECT count(*) FROM subscription.subscriptions WHERE customer_id = %s", [other["id"]])
    assert rows == (0,)
