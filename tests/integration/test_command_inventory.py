"""Inventory commands over HTTP: counts, adjustments at retired locations or for retired meals, and the
ledger invariant (for each location and meal, the ledger sums to on_hand)."""

from __future__ import annotations

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.commands import (
    active_meal,
    adjust,
    assert_problem,
    client,
    count,
    created,
    customer_token,
    ledger,
    order_body,
    register_customer,
    scalar,
    stock,
    stocked_location,
)

pytestmark = pytest.mark.integration


def _place(stack: Settings, location_id: str, meal_id: str, quantity: int) -> dict[str, object]:
    customer = register_customer(stack)
    with client(stack, customer_token(stack, customer["id"])) as http:
        return created(http.post("/orders", json=order_body(location_id, [(meal_id, quantity)])))


def test_count_sets_on_hand_and_appends_the_difference_as_count(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 10})
    body = created(count(admin, loc["id"], meal["id"], 7))
    assert body["on_hand"] == 7 and body["delta"] == -3 and body["adjustment_id"] is not None
    assert stock(stack, loc["id"], meal["id"]) == (7, 0, 2)
    assert ledger(stack, loc["id"], meal["id"]) == [(10, "replenish", None), (-3, "count", None)]
    reason = scalar(stack, "SELECT reason FROM inventory.adjustments WHERE id = %s", [body["adjustment_id"]])
    assert reason == "count"

    body = created(count(admin, loc["id"], meal["id"], 12))
    assert body["on_hand"] == 12 and body["delta"] == 5
    assert ledger(stack, loc["id"], meal["id"])[-1] == (5, "count", None)


def test_count_equal_to_on_hand_writes_no_ledger_entry(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 4})
    before = stock(stack, loc["id"], meal["id"])
    body = created(count(admin, loc["id"], meal["id"], 4))
    assert body["adjustment_id"] is None and body["delta"] == 0 and body["on_hand"] == 4
    assert stock(stack, loc["id"], meal["id"]) == before == (4, 0, 1)
    assert ledger(stack, loc["id"], meal["id"]) == [(4, "replenish", None)]


def test_count_below_reserved_is_409_and_writes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5})
    _place(stack, loc["id"], meal["id"], 3)
    before_stock, before_ledger = stock(stack, loc["id"], meal["id"]), ledger(stack, loc["id"], meal["id"])
    assert before_stock is not None and before_stock[:2] == (5, 3)

    r = count(admin, loc["id"], meal["id"], 2)
    problem = assert_problem(
        r, 409, "counted", rule="a count cannot be below the reserved quantity", type_="insufficient-stock"
    )
    assert (problem["on_hand"], problem["reserved"]) == (5, 3)
    assert stock(stack, loc["id"], meal["id"]) == before_stock
    assert ledger(stack, loc["id"], meal["id"]) == before_ledger


@pytest.mark.parametrize(("delta", "reason"), [(3, "replenish"), (-1, "remove")])
def test_adjustment_at_a_decommissioned_location_is_409_and_writes_nothing(
    stack: Settings, admin: httpx.Client, delta: int, reason: str
) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5})
    created(admin.post(f"/locations/{loc['id']}/status", json={"status": "decommissioned"}), 200)
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": delta, "reason": reason}
    r = admin.post("/inventory/adjustments", json=body)
    assert_problem(r, 409, "location_id", rule="location must not be decommissioned or closed", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) == (5, 0, 1)
    assert ledger(stack, loc["id"], meal["id"]) == [(5, "replenish", None)]


def test_count_at_a_closed_kiosk_is_409_and_writes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5}, kind="kiosk", status="open")
    created(admin.post(f"/locations/{loc['id']}/status", json={"status": "closed"}), 200)
    r = count(admin, loc["id"], meal["id"], 1)
    assert_problem(r, 409, "location_id", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) == (5, 0, 1)


def test_replenishing_a_retired_meal_is_409_and_writes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 2})
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 4, "reason": "replenish"}
    r = admin.post("/inventory/adjustments", json=body)
    assert_problem(r, 409, "meal_id", rule="meal must not be retired", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) == (2, 0, 1)
    assert ledger(stack, loc["id"], meal["id"]) == [(2, "replenish", None)]
    # Removing what is left of a retired meal stays possible.
    assert adjust(admin, loc["id"], meal["id"], -2, "remove")["on_hand"] == 0


def test_a_first_stocking_refused_by_a_reference_leaves_no_stock_row(stack: Settings, admin: httpx.Client) -> None:
    # The adjustment changes the row in the statement that reads the references; a refusal rolls the new row back.
    meal = active_meal(admin)
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    loc = stocked_location(admin, {})
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 3, "reason": "replenish"}
    assert_problem(admin.post("/inventory/adjustments", json=body), 409, "meal_id", rule="meal must not be retired")
    closed = stocked_location(admin, {}, kind="kiosk", status="open")
    created(admin.post(f"/locations/{closed['id']}/status", json={"status": "closed"}), 200)
    fresh = active_meal(admin)
    body = {"location_id": closed["id"], "meal_id": fresh["id"], "delta": 3, "reason": "replenish"}
    assert_problem(admin.post("/inventory/adjustments", json=body), 409, "location_id", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) is None and ledger(stack, loc["id"], meal["id"]) == []
    assert stock(stack, closed["id"], fresh["id"]) is None and ledger(stack, closed["id"], fresh["id"]) == []


def test_count_above_on_hand_of_a_retired_meal_is_409_and_writes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5})
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    r = count(admin, loc["id"], meal["id"], 8)
    assert_problem(r, 409, "meal_id", rule="meal must not be retired", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) == (5, 0, 1)
    assert ledger(stack, loc["id"], meal["id"]) == [(5, "replenish", None)]


def test_count_below_on_hand_of_a_retired_meal_is_accepted(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5})
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    body = created(count(admin, loc["id"], meal["id"], 3))
    assert body["on_hand"] == 3 and body["delta"] == -2
    assert ledger(stack, loc["id"], meal["id"]) == [(5, "replenish", None), (-2, "count", None)]


def test_ledger_sums_to_on_hand_after_adjustments_counts_and_orders(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 20})
    adjust(admin, loc["id"], meal["id"], -2, "damaged")
    adjust(admin, loc["id"], meal["id"], -1, "expired")
    adjust(admin, loc["id"], meal["id"], 3, "correction")
    created(count(admin, loc["id"], meal["id"], 15))
    picked = _place(stack, loc["id"], meal["id"], 4)
    created(admin.post(f"/orders/{picked['id']}/ready"), 200)
    created(admin.post(f"/orders/{picked['id']}/pickup"), 200)
    cancelled = _place(stack, loc["id"], meal["id"], 2)
    created(admin.post(f"/orders/{cancelled['id']}/cancel"), 200)
    _place(stack, loc["id"], meal["id"], 3)  # still reserved
    adjust(admin, loc["id"], meal["id"], 5, "replenish")
    created(count(admin, loc["id"], meal["id"], 14))
    adjust(admin, loc["id"], meal["id"], -1, "remove")

    on_hand, reserved, _ = stock(stack, loc["id"], meal["id"]) or (None, None, None)
    entries = ledger(stack, loc["id"], meal["id"])
    assert (on_hand, reserved) == (13, 3)
    assert sum(delta for delta, _, _ in entries) == on_hand
    assert [reason for _, reason, _ in entries] == [
        "replenish",
        "damaged",
        "expired",
        "correction",
        "count",
        "sale",
        "replenish",
        "count",
        "remove",
    ]
    assert entries[5] == (-4, "sale", picked["id"])
