"""Each view, per relationship shape: a root row change, a child row change, an embedded entity change
(fan-out), and a delete — all through the real pipeline, read once the view has applied the write."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal
from tests.support.views import current_lsn, doc, es_client, wait_applied

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.close()


@pytest.fixture
def cmd(stack: Settings, admin_token: str) -> Iterator[httpx.Client]:
    with command_client(stack, admin_token) as client:
        yield client


def ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    return dict(r.json())


def stock(cmd: httpx.Client, loc: str, meal: str, delta: int) -> dict[str, Any]:
    return ok(
        cmd.post(
            "/inventory/adjustments",
            json={
                "location_id": loc,
                "meal_id": meal,
                "delta": delta,
                "reason": "replenish" if delta > 0 else "remove",
            },
        ),
        201,
    )


def patch(cmd: httpx.Client, path: str, body: dict[str, Any], etag: str) -> httpx.Response:
    return cmd.patch(path, json=body, headers={"If-Match": etag})


def place_order(cmd: httpx.Client, shop: dict[str, Any], prefix: str, name: str, quantity: int) -> dict[str, Any]:
    """Registers a customer and places their order for the shop's meal at the shop's fridge."""
    customer = ok(
        cmd.post("/customers", json={"email": f"{prefix}-{shop['loc_code'].lower()}@example.com", "name": name}), 201
    )
    now = datetime.now(UTC)
    body = {
        "customer_id": customer["id"],
        "location_id": shop["loc"],
        "pickup_from": (now + timedelta(hours=1)).isoformat(),
        "pickup_until": (now + timedelta(hours=2)).isoformat(),
        "lines": [{"meal_id": shop["meal"], "quantity": quantity}],
    }
    return ok(cmd.post("/orders", json=body), 201)


def settle(es: Elasticsearch, stack: Settings, response: httpx.Response | None = None) -> None:
    token = response.headers["X-Consistency-Token"] if response is not None else current_lsn(stack)
    wait_applied(es, stack, token)


@pytest.fixture
def shop(cmd: httpx.Client, es: Elasticsearch, stack: Settings) -> dict[str, Any]:
    """An active meal stocked (5 units) at an online fridge."""
    meal = new_meal(cmd, name="Shape Bowl", description="bowl")
    ok(cmd.post(f"/catalog/meals/{meal['id']}/publish"))
    loc = new_location(cmd, name="Shape Fridge")
    stock(cmd, loc["id"], meal["id"], 5)
    settle(es, stack)
    return {"meal": meal["id"], "loc": loc["id"], "loc_code": loc["code"]}


# -- catalog ------------------------------------------------------------------------------------------
def test_catalog_root_change_updates_the_meal(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    r = patch(cmd, f"/catalog/meals/{shop['meal']}", {"price_cents": 1234}, '"2"')
    settle(es, stack, r)
    assert doc(es, "catalog", shop["meal"])["price_cents"] == 1234  # type: ignore[index]


def test_catalog_child_change_updates_availability(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    stock(cmd, shop["loc"], shop["meal"], -3)  # 5 -> 2 units: low
    settle(es, stack)
    d = doc(es, "catalog", shop["meal"])
    assert d is not None
    assert [(a["location_id"], a["level"]) for a in d["availability"]] == [(shop["loc"], "low")]
    assert d["totals"] == {"locations": 1, "well_stocked": 0}
    stock(cmd, shop["loc"], shop["meal"], 6)  # 2 -> 8: available again
    settle(es, stack)
    d = doc(es, "catalog", shop["meal"])
    assert d is not None
    assert [(a["location_id"], a["level"]) for a in d["availability"]] == [(shop["loc"], "available")]
    assert d["totals"] == {"locations": 1, "well_stocked": 1}


def test_a_stock_change_that_keeps_the_level_leaves_the_catalog_document_as_written(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    """Exact counts are the inventory's: 5 -> 8 units moves the inventory line, and the meal's catalog document
    (available there before and after) is not rebuilt or rewritten."""
    first = doc(es, "catalog", shop["meal"])
    assert first is not None and first["availability"][0]["level"] == "available"
    stock(cmd, shop["loc"], shop["meal"], 3)
    settle(es, stack)
    assert doc(es, "inventory", f"{shop['loc']}/{shop['meal']}")["on_hand"] == 8  # type: ignore[index]
    again = doc(es, "catalog", shop["meal"])
    assert again is not None
    assert (again["indexed_at"], again["source_lsn"]) == (first["indexed_at"], first["source_lsn"])


def test_location_going_offline_leaves_catalog_availability(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    r = cmd.post(f"/locations/{shop['loc']}/status", json={"status": "offline"})
    ok(r)
    settle(es, stack, r)
    d = doc(es, "catalog", shop["meal"])
    assert d is not None
    assert d["availability"] == [] and d["available_now"] is False and shop["loc"] not in d["location_ids"]


def test_location_rename_reaches_every_embedding_document(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    r = patch(cmd, f"/locations/{shop['loc']}", {"name": "Renamed Fridge"}, '"1"')
    ok(r)
    settle(es, stack, r)
    assert doc(es, "catalog", shop["meal"])["availability"][0]["name"] == "Renamed Fridge"  # type: ignore[index]
    assert doc(es, "inventory", shop["loc"])["name"] == "Renamed Fridge"  # type: ignore[index]


def test_retired_meal_is_deleted_from_the_catalog(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    assert doc(es, "catalog", shop["meal"]) is not None
    r = cmd.post(f"/catalog/meals/{shop['meal']}/retire")
    ok(r)
    settle(es, stack, r)
    assert doc(es, "catalog", shop["meal"]) is None
    # still in the inventory view: the units are physically there until removed
    line = doc(es, "inventory", f"{shop['loc']}/{shop['meal']}")  # the stock line's own document
    assert line is not None and line["meal_status"] == "retired"


def test_long_text_left_untouched_by_an_update_keeps_its_value(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings
) -> None:
    # ~19 KB of poorly compressible text: PostgreSQL stores it out of line (TOAST), and an update that does not
    # touch it logs no new value for it, which is where payload-patching sinks lose it.
    long_text = " ".join(f"w{i:05d}x{(i * 7919) % 10007}" for i in range(1600))
    assert len(long_text) > 18000
    meal = new_meal(cmd, name="Toast Bowl", description=long_text)
    ok(cmd.post(f"/catalog/meals/{meal['id']}/publish"))
    r = patch(cmd, f"/catalog/meals/{meal['id']}", {"price_cents": 777}, '"2"')
    ok(r)
    settle(es, stack, r)
    d = doc(es, "catalog", meal["id"])
    assert d is not None
    assert d["price_cents"] == 777
    assert d["description"] == long_text


# -- inventory ----------------------------------------------------------------------------------------
def test_meal_rename_reaches_inventory_orders_and_catalog(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    order = place_order(cmd, shop, "shape", "Shape", 3)
    r = patch(cmd, f"/catalog/meals/{shop['meal']}", {"name": "Renamed Bowl"}, '"2"')
    ok(r)
    settle(es, stack, r)
    assert doc(es, "catalog", shop["meal"])["name"] == "Renamed Bowl"  # type: ignore[index]
    assert doc(es, "inventory", f"{shop['loc']}/{shop['meal']}")["meal_name"] == "Renamed Bowl"  # type: ignore[index]
    o = doc(es, "orders", order["id"])
    assert o is not None
    assert o["lines"][0]["meal_name"] == "Renamed Bowl"
    # the order's reservation shows in the other two views: 5 on hand, 3 reserved, 2 left is low
    assert doc(es, "inventory", f"{shop['loc']}/{shop['meal']}")["reserved"] == 3  # type: ignore[index]
    summary = doc(es, "inventory", shop["loc"])
    assert summary is not None  # the location counts the line low now, by its new name; units are summed when read
    assert summary["totals"] == {"meals": 1, "low_stock_meals": 1}
    assert summary["low_stock_meal_names"] == ["Renamed Bowl"]
    assert doc(es, "catalog", shop["meal"])["availability"][0]["level"] == "low"  # type: ignore[index]


def test_deleted_location_row_is_deleted_from_inventory(cmd: httpx.Client, es: Elasticsearch, stack: Settings) -> None:
    loc = new_location(cmd, name="Short-lived Fridge")
    settle(es, stack)
    assert doc(es, "inventory", loc["id"]) is not None
    with psycopg.connect(stack.pg_dsn) as conn:  # no command deletes a location; a DBA might
        conn.execute("DELETE FROM inventory.locations WHERE id = %s", [loc["id"]])
    settle(es, stack)
    assert doc(es, "inventory", loc["id"]) is None


# -- orders and subscriptions -------------------------------------------------------------------------
def test_order_status_change_and_delete_reach_the_orders_view(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    order = place_order(cmd, shop, "ord", "Ord", 1)
    r = cmd.post(f"/orders/{order['id']}/cancel")
    ok(r)
    settle(es, stack, r)
    o = doc(es, "orders", order["id"])
    assert o is not None
    assert o["status"] == "cancelled"
    assert o["customer"]["name"] == "Ord" and o["location"]["location_id"] == shop["loc"]
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute("DELETE FROM ordering.order_lines WHERE order_id = %s", [order["id"]])
        conn.execute("DELETE FROM ordering.orders WHERE id = %s", [order["id"]])
    settle(es, stack)
    assert doc(es, "orders", order["id"]) is None


def test_plan_and_location_changes_reach_subscriptions(
    cmd: httpx.Client, es: Elasticsearch, stack: Settings, shop: dict[str, Any]
) -> None:
    plan = ok(
        cmd.post(
            "/subscription/plans",
            json={
                "code": f"p-{shop['loc_code'].lower()}"[:32],
                "name": "Plan A",
                "meals_per_week": 3,
                "price_cents": 3000,
            },
        ),
        201,
    )
    customer = ok(
        cmd.post("/customers", json={"email": f"sub-{shop['loc_code'].lower()}@example.com", "name": "Sub"}), 201
    )
    sub = ok(
        cmd.post(
            "/subscriptions", json={"customer_id": customer["id"], "plan_id": plan["id"], "location_id": shop["loc"]}
        ),
        201,
    )
    ok(patch(cmd, f"/subscription/plans/{plan['id']}", {"name": "Plan A+"}, '"1"'))
    r = cmd.post(
        f"/subscriptions/{sub['id']}/pause", json={"until": (datetime.now(UTC).date() + timedelta(days=10)).isoformat()}
    )
    ok(r)
    settle(es, stack, r)
    s = doc(es, "subscriptions", sub["id"])
    assert s is not None
    assert s["plan"]["name"] == "Plan A+" and s["status"] == "paused" and s["location"]["location_id"] == shop["loc"]
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute("DELETE FROM subscription.subscriptions WHERE id = %s", [sub["id"]])
    settle(es, stack)
    assert doc(es, "subscriptions", sub["id"]) is None
