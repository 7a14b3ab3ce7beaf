"""Helpers for the command-API integration tests: problem assertions, tokens, direct reads of PostgreSQL,
and small builders that set up meals, locations, stock, customers, orders and plans over HTTP."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from farmacy.auth import Role
from farmacy.settings import Settings
from tests.support.api import new_location, new_meal
from tests.support.tokens import provider_token

PROBLEM = "application/problem+json"
LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")


# --- HTTP ----------------------------------------------------------------------------------------------


def client(settings: Settings, token: str | None = None) -> httpx.Client:
    """A client of the command API; without a token it sends no Authorization header at all."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"http://127.0.0.1:{settings.command_port}", headers=headers, timeout=15)


def customer_token(settings: Settings, customer_id: str) -> str:
    return provider_token(settings, Role.CUSTOMER, f"customer-{customer_id}", uuid.UUID(customer_id))


def operator_token(settings: Settings) -> str:
    return provider_token(settings, Role.OPERATOR, "test-operator")


def assert_problem(
    r: httpx.Response, status: int, field: str | None, rule: str | None = None, type_: str | None = None
) -> dict[str, Any]:
    """Checks a problem+json answer. ``field=None`` asserts the problem names no field (``errors == []``)."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["content-type"] == PROBLEM
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    if field is None:
        assert body["errors"] == [], body
    else:
        assert body["errors"], f"problem names no field: {body}"
        assert body["errors"][0]["field"] == field, body
        if rule is not None:
            assert rule in body["errors"][0]["rule"], body
    if type_ is not None:
        assert body["type"] == f"https://farmacy.food/problems/{type_}", body
    return body


def created(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    return dict(r.json())


def if_match(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


def pickup_window(start_in_h: float = 1, hours: float = 2) -> dict[str, str]:
    start = datetime.now(UTC) + timedelta(hours=start_in_h)
    return {"pickup_from": start.isoformat(), "pickup_until": (start + timedelta(hours=hours)).isoformat()}


# --- PostgreSQL ----------------------------------------------------------------------------------------


def fetch_one(settings: Settings, query: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
    with psycopg.connect(settings.pg_dsn) as conn:
        return conn.execute(query, params or []).fetchone()


def fetch_all(settings: Settings, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(settings.pg_dsn) as conn:
        return conn.execute(query, params or []).fetchall()


def scalar(settings: Settings, query: str, params: list[Any] | None = None) -> Any:
    row = fetch_one(settings, query, params)
    assert row is not None
    return row[0]


def stock(settings: Settings, location_id: str, meal_id: str) -> tuple[int, int, int] | None:
    """(on_hand, reserved, version) of one stock row, or None when it does not exist."""
    row = fetch_one(
        settings,
        "SELECT on_hand, reserved, version FROM inventory.stock WHERE location_id = %s AND meal_id = %s",
        [location_id, meal_id],
    )
    return (row[0], row[1], row[2]) if row else None


def levels(settings: Settings, location_id: str, meal_id: str) -> tuple[int, int] | None:
    """(on_hand, reserved) of one stock row, or None when it does not exist."""
    row = stock(settings, location_id, meal_id)
    return row[:2] if row else None


def ledger(settings: Settings, location_id: str, meal_id: str) -> list[tuple[int, str, str | None]]:
    """(delta, reason, order_id) of every ledger entry of one stock row, oldest first."""
    rows = fetch_all(
        settings,
        "SELECT delta, reason, order_id::text FROM inventory.adjustments WHERE location_id = %s AND meal_id = %s "
        "ORDER BY id",
        [location_id, meal_id],
    )
    return [(r[0], r[1], r[2]) for r in rows]


def count_orders(settings: Settings, customer_id: str) -> int:
    return int(scalar(settings, "SELECT count(*) FROM ordering.orders WHERE customer_id = %s", [customer_id]))


# --- builders ------------------------------------------------------------------------------------------


def active_meal(admin: httpx.Client, **overrides: Any) -> dict[str, Any]:
    meal = new_meal(admin, **overrides)
    return created(admin.post(f"/catalog/meals/{meal['id']}/publish"), 200)


def adjust(admin: httpx.Client, location_id: str, meal_id: str, delta: int, reason: str) -> dict[str, Any]:
    body = {"location_id": location_id, "meal_id": meal_id, "delta": delta, "reason": reason}
    return created(admin.post("/inventory/adjustments", json=body))


def count(admin: httpx.Client, location_id: str, meal_id: str, counted: int) -> httpx.Response:
    return admin.post("/inventory/counts", json={"location_id": location_id, "meal_id": meal_id, "counted": counted})


def stocked_location(admin: httpx.Client, stock_of: dict[str, int], **overrides: Any) -> dict[str, Any]:
    """An online fridge holding ``stock_of[meal_id]`` units of each meal."""
    loc = new_location(admin, **overrides)
    for meal_id, units in stock_of.items():
        adjust(admin, loc["id"], meal_id, units, "replenish")
    return loc


def customer_body() -> dict[str, str]:
    return {"email": f"t-{uuid.uuid4().hex[:12]}@example.com", "name": "Test Customer"}


def register_customer(settings: Settings) -> dict[str, Any]:
    with client(settings) as anon:
        return created(anon.post("/customers", json=customer_body()))


def order_body(location_id: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "location_id": location_id,
        **pickup_window(),
        "lines": [{"meal_id": meal_id, "quantity": qty} for meal_id, qty in lines],
        **extra,
    }


def plan_body(**overrides: Any) -> dict[str, Any]:
    return {"code": f"p-{uuid.uuid4().hex[:12]}", "name": "Test plan", "meals_per_week": 5, "price_cents": 4999} | (
        overrides
    )


def new_plan(admin: httpx.Client, **overrides: Any) -> dict[str, Any]:
    return created(admin.post("/subscription/plans", json=plan_body(**overrides)))


def post_all_at_once(settings: Settings, token: str, path: str, body: dict[str, Any], times: int) -> list[int]:
    """``times`` identical POSTs to the command API sent together, each on a connection of its own; their statuses."""

    async def post_all() -> list[int]:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.command_port}",
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=times),
        ) as http:
            responses = await asyncio.gather(*(http.post(path, json=body) for _ in range(times)))
        return [r.status_code for r in responses]

    return asyncio.run(post_all())
