"""Ordering commands over HTTP: customers, placing orders (atomic reservation), and the order lifecycle."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.api import new_location, new_meal
from tests.support.commands import (
    active_meal,
    adjust,
    assert_problem,
    client,
    count_orders,
    created,
    customer_body,
    customer_token,
    fetch_all,
    if_match,
    ledger,
    levels,
    order_body,
    register_customer,
    scalar,
    stock,
    stocked_location,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def shop(admin: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An online fridge holding 5 of meal a (12.50) and 4 of meal b (3.99)."""
    a, b = active_meal(admin, price_cents=1250), active_meal(admin, price_cents=399)
    return stocked_location(admin, {a["id"]: 5, b["id"]: 4}), a, b


def _place(http: httpx.Client, location_id: str, lines: list[tuple[str, int]], **extra: Any) -> httpx.Response:
    return http.post("/orders", json=order_body(location_id, lines, **extra))


# --- customers -----------------------------------------------------------------------------------------


def test_register_customer_is_public_and_201(stack: Settings) -> None:
    body = customer_body()
    with client(stack) as anon:
        r = anon.post("/customers", json=body)
    customer = created(r)
    assert customer["email"] == body["email"] and customer["version"] == 1
    assert r.headers["Location"] == f"/customers/{customer['id']}"
    assert r.headers["X-Consistency-Token"] == customer["consistency_token"]
    assert scalar(stack, "SELECT email FROM ordering.customers WHERE id = %s", [customer["id"]]) == body["email"]


def test_register_customer_with_a_duplicate_email_in_other_case_is_409_on_email(stack: Settings) -> None:
    body = customer_body()
    with client(stack) as anon:
        created(anon.post("/customers", json=body))
        r = anon.post("/customers", json={"email": body["email"].upper(), "name": "Someone else"})
    assert_problem(r, 409, "email", rule="must be unique", type_="conflict")
    rows = scalar(stack, "SELECT count(*) FROM ordering.customers WHERE lower(email) = lower(%s)", [body["email"]])
    assert rows == 1


# --- placing -------------------------------------------------------------------------------------------


def test_customer_places_an_order_reserving_stock_with_total_of_unit_prices(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, b = shop
    r = _place(as_customer, loc["id"], [(a["id"], 2), (b["id"], 3)])
    order = created(r)
    assert order["status"] == "placed" and order["customer_id"] == customer["id"]
    assert order["total_cents"] == 2 * 1250 + 3 * 399
    assert [
        (line["line_no"], line["meal_id"], line["quantity"], line["unit_price_cents"]) for line in order["lines"]
    ] == [
        (1, a["id"], 2, 1250),
        (2, b["id"], 3, 399),
    ]
    assert r.headers["Location"] == f"/orders/{order['id']}" and r.headers["ETag"] == '"1"'
    assert levels(stack, loc["id"], a["id"]) == (5, 2)
    assert levels(stack, loc["id"], b["id"]) == (4, 3)
    assert scalar(stack, "SELECT total_cents FROM ordering.orders WHERE id = %s", [order["id"]]) == 2 * 1250 + 3 * 399


def test_order_for_more_than_available_is_409_naming_short_lines_and_reserves_nothing(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, b = shop
    c = active_meal(admin)
    adjust(admin, loc["id"], c["id"], 2, "replenish")
    d = active_meal(admin)  # never stocked here: no stock row at all
    before = {m["id"]: stock(stack, loc["id"], m["id"]) for m in (a, b, c)}

    r = _place(as_customer, loc["id"], [(a["id"], 5), (b["id"], 5), (c["id"], 2), (d["id"], 1)])
    problem = assert_problem(
        r, 409, "lines.1.quantity", rule="quantity must not exceed what is available", type_="insufficient-stock"
    )
    assert [(s["line"], s["meal_id"], s["requested"], s["available"]) for s in problem["short_lines"]] == [
        (1, b["id"], 5, 4),
        (3, d["id"], 1, 0),
    ]
    assert {m["id"]: stock(stack, loc["id"], m["id"]) for m in (a, b, c)} == before
    assert all(s is not None and s[1] == 0 for s in before.values())
    assert stock(stack, loc["id"], d["id"]) is None
    assert count_orders(stack, customer["id"]) == 0


@pytest.mark.parametrize("status", ["maintenance", "offline"])
def test_order_at_a_non_operational_location_is_409_and_reserves_nothing(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, customer: dict[str, Any], shop: Any, status: str
) -> None:
    loc, a, _ = shop
    created(admin.post(f"/locations/{loc['id']}/status", json={"status": status}), 200)
    r = _place(as_customer, loc["id"], [(a["id"], 1)])
    assert_problem(r, 409, "location_id", rule="location must be operational", type_="conflict")
    assert levels(stack, loc["id"], a["id"]) == (5, 0)
    assert count_orders(stack, customer["id"]) == 0


def test_order_at_a_temporarily_closed_kiosk_is_409(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, customer: dict[str, Any]
) -> None:
    meal = active_meal(admin)
    kiosk = stocked_location(admin, {meal["id"]: 5}, kind="kiosk", status="open")
    created(admin.post(f"/locations/{kiosk['id']}/status", json={"status": "closed_temporarily"}), 200)
    r = _place(as_customer, kiosk["id"], [(meal["id"], 1)])
    assert_problem(r, 409, "location_id", rule="location must be operational", type_="conflict")
    assert levels(stack, kiosk["id"], meal["id"]) == (5, 0)
    assert count_orders(stack, customer["id"]) == 0


def test_order_for_a_draft_meal_is_409_on_the_line(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, customer: dict[str, Any]
) -> None:
    draft = new_meal(admin)
    loc = stocked_location(admin, {draft["id"]: 3})
    r = _place(as_customer, loc["id"], [(draft["id"], 1)])
    assert_problem(r, 409, "lines.0.meal_id", rule="meal must be active", type_="conflict")
    assert levels(stack, loc["id"], draft["id"]) == (3, 0)
    assert count_orders(stack, customer["id"]) == 0


def test_order_for_an_unknown_meal_is_422_on_the_line(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, _, _ = shop
    r = _place(as_customer, loc["id"], [(str(uuid.uuid4()), 1)])
    assert_problem(r, 422, "lines.0.meal_id", rule="must reference an existing meal", type_="unknown-reference")
    assert count_orders(stack, customer["id"]) == 0


def test_order_with_pickup_until_before_pickup_from_is_422_on_pickup_until(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, _ = shop
    start = datetime.now(UTC) + timedelta(hours=3)
    window = {"pickup_from": start.isoformat(), "pickup_until": (start - timedelta(hours=1)).isoformat()}
    r = as_customer.post("/orders", json={**order_body(loc["id"], [(a["id"], 1)]), **window})
    assert_problem(r, 422, "pickup_until", rule="must be after pickup_from", type_="invalid-input")
    assert levels(stack, loc["id"], a["id"]) == (5, 0)
    assert count_orders(stack, customer["id"]) == 0


def test_order_with_a_duplicate_meal_in_lines_is_422_on_lines(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, _ = shop
    r = _place(as_customer, loc["id"], [(a["id"], 1), (a["id"], 2)])
    assert count_orders(stack, customer["id"]) == 0
    assert_problem(r, 422, "lines", type_="validation-error")


def test_order_with_a_duplicate_meal_in_lines_is_422_and_writes_nothing(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, _ = shop
    r = _place(as_customer, loc["id"], [(a["id"], 1), (a["id"], 2)])
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "https://farmacy.food/problems/validation-error"
    assert "each meal may appear once" in problem["errors"][0]["message"]
    assert levels(stack, loc["id"], a["id"]) == (5, 0)
    assert count_orders(stack, customer["id"]) == 0


def test_customer_cannot_place_an_order_for_another_customer_id_403(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, _ = shop
    other = register_customer(stack)
    r = _place(as_customer, loc["id"], [(a["id"], 1)], customer_id=other["id"])
    assert_problem(r, 403, "customer_id", rule="must be your own id", type_="forbidden")
    assert count_orders(stack, customer["id"]) == count_orders(stack, other["id"]) == 0
    assert levels(stack, loc["id"], a["id"]) == (5, 0)


def test_admin_placing_an_order_without_customer_id_is_422_on_customer_id(
    stack: Settings, admin: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    r = _place(admin, loc["id"], [(a["id"], 1)])
    assert_problem(r, 422, "customer_id", rule="required for admins", type_="invalid-input")
    assert scalar(stack, "SELECT count(*) FROM ordering.orders WHERE location_id = %s", [loc["id"]]) == 0
    assert levels(stack, loc["id"], a["id"]) == (5, 0)


def test_admin_places_an_order_for_a_named_customer(
    stack: Settings, admin: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, _ = shop
    order = created(_place(admin, loc["id"], [(a["id"], 2)], customer_id=customer["id"]))
    assert order["customer_id"] == customer["id"] and order["total_cents"] == 2500
    assert levels(stack, loc["id"], a["id"]) == (5, 2)


# --- lifecycle -----------------------------------------------------------------------------------------


def test_cancel_releases_the_reservation(
    stack: Settings, as_customer: httpx.Client, customer: dict[str, Any], shop: Any
) -> None:
    loc, a, b = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 2), (b["id"], 1)]))
    assert levels(stack, loc["id"], a["id"]) == (5, 2)
    body = created(as_customer.post(f"/orders/{order['id']}/cancel"), 200)
    assert body["status"] == "cancelled" and body["version"] == 2
    assert levels(stack, loc["id"], a["id"]) == (5, 0)
    assert levels(stack, loc["id"], b["id"]) == (4, 0)
    assert [r[1] for r in ledger(stack, loc["id"], a["id"])] == ["replenish"]


def test_ready_then_pickup_consumes_stock_and_writes_sale_entries(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, b = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 2), (b["id"], 3)]))
    ready = created(admin.post(f"/orders/{order['id']}/ready"), 200)
    assert ready["status"] == "ready"
    assert levels(stack, loc["id"], a["id"]) == (5, 2)
    picked = created(as_customer.post(f"/orders/{order['id']}/pickup"), 200)
    assert picked["status"] == "picked_up" and picked["version"] == 3
    assert levels(stack, loc["id"], a["id"]) == (3, 0)
    assert levels(stack, loc["id"], b["id"]) == (1, 0)
    assert ledger(stack, loc["id"], a["id"])[-1] == (-2, "sale", order["id"])
    assert ledger(stack, loc["id"], b["id"])[-1] == (-3, "sale", order["id"])
    status = scalar(stack, "SELECT status FROM ordering.orders WHERE id = %s", [order["id"]])
    assert status == "picked_up"


def test_cancel_a_ready_order_releases_the_reservation(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 3)]))
    created(admin.post(f"/orders/{order['id']}/ready"), 200)
    body = created(admin.post(f"/orders/{order['id']}/cancel"), 200)
    assert body["status"] == "cancelled"
    assert levels(stack, loc["id"], a["id"]) == (5, 0)


def test_cancel_with_a_stale_if_match_is_412_and_keeps_the_reservation(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 2)]))
    created(admin.post(f"/orders/{order['id']}/ready", headers=if_match(1)), 200)
    r = as_customer.post(f"/orders/{order['id']}/cancel", headers=if_match(1))
    assert_problem(r, 412, "If-Match", type_="version-mismatch")
    assert fetch_all(stack, "SELECT status, version FROM ordering.orders WHERE id = %s", [order["id"]]) == [
        ("ready", 2)
    ]
    assert levels(stack, loc["id"], a["id"]) == (5, 2)


def test_pickup_from_placed_is_409_and_consumes_nothing(stack: Settings, as_customer: httpx.Client, shop: Any) -> None:
    loc, a, _ = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 2)]))
    r = as_customer.post(f"/orders/{order['id']}/pickup")
    assert_problem(r, 409, "status", rule="valid order status transition", type_="invalid-transition")
    assert levels(stack, loc["id"], a["id"]) == (5, 2)
    assert [e[1] for e in ledger(stack, loc["id"], a["id"])] == ["replenish"]
    assert scalar(stack, "SELECT status FROM ordering.orders WHERE id = %s", [order["id"]]) == "placed"


def test_cancel_a_picked_up_order_is_409_and_changes_nothing(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    order = created(_place(as_customer, loc["id"], [(a["id"], 2)]))
    created(admin.post(f"/orders/{order['id']}/ready"), 200)
    created(admin.post(f"/orders/{order['id']}/pickup"), 200)
    r = as_customer.post(f"/orders/{order['id']}/cancel")
    assert_problem(r, 409, "status", rule="valid order status transition", type_="invalid-transition")
    assert levels(stack, loc["id"], a["id"]) == (3, 0)
    assert scalar(stack, "SELECT status FROM ordering.orders WHERE id = %s", [order["id"]]) == "picked_up"


def test_customer_cannot_cancel_another_customers_order_404(
    stack: Settings, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    other = register_customer(stack)
    with client(stack, customer_token(stack, other["id"])) as as_other:
        order = created(_place(as_other, loc["id"], [(a["id"], 1)]))
    r = as_customer.post(f"/orders/{order['id']}/cancel")
    # Ownership is about the resource, not an input field: the problem names no field.
    problem = assert_problem(r, 404, None, type_="not-found")
    assert "does not exist" in problem["detail"]
    rows = fetch_all(stack, "SELECT status, version FROM ordering.orders WHERE id = %s", [order["id"]])
    assert rows == [("placed", 1)]
    assert levels(stack, loc["id"], a["id"]) == (5, 1)


def test_customer_cannot_pick_up_another_customers_order_404(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client, shop: Any
) -> None:
    loc, a, _ = shop
    other = register_customer(stack)
    with client(stack, customer_token(stack, other["id"])) as as_other:
        order = created(_place(as_other, loc["id"], [(a["id"], 1)]))
    created(admin.post(f"/orders/{order['id']}/ready"), 200)
    r = as_customer.post(f"/orders/{order['id']}/pickup")
    assert_problem(r, 404, None, type_="not-found")
    assert fetch_all(stack, "SELECT status FROM ordering.orders WHERE id = %s", [order["id"]]) == [("ready",)]
    assert levels(stack, loc["id"], a["id"]) == (5, 1)


def test_unknown_order_is_404(as_customer: httpx.Client) -> None:
    r = as_customer.post(f"/orders/{uuid.uuid4()}/cancel")
    assert_problem(r, 404, None, type_="not-found")


def test_stock_at_another_location_does_not_count_for_an_order(
    stack: Settings, admin: httpx.Client, as_customer: httpx.Client
) -> None:
    meal = active_meal(admin)
    stocked_location(admin, {meal["id"]: 10})
    empty = new_location(admin)
    r = _place(as_customer, empty["id"], [(meal["id"], 1)])
    problem = assert_problem(r, 409, "lines.0.quantity", type_="insufficient-stock")
    assert problem["short_lines"] == [{"line": 0, "meal_id": meal["id"], "requested": 1, "available": 0}]
