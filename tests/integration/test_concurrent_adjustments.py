"""Stock adjustments under concurrency: removals racing for the same units never take on_hand below what is reserved,
and a stocking that races a meal's retirement waits for it and sees the final status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from farmacy.settings import Settings
from tests.support.commands import (
    active_meal,
    assert_problem,
    client,
    created,
    customer_token,
    ledger,
    order_body,
    post_all_at_once,
    register_customer,
    scalar,
    stock,
    stocked_location,
)
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def test_40_concurrent_removals_of_10_units_with_3_reserved_take_exactly_7(
    stack: Settings, admin: httpx.Client, admin_token: str
) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 10})
    customer = register_customer(stack)
    with client(stack, customer_token(stack, customer["id"])) as http:
        created(http.post("/orders", json=order_body(loc["id"], [(meal["id"], 3)])))
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": -1, "reason": "remove"}

    codes = post_all_at_once(stack, admin_token, "/inventory/adjustments", body, 40)
    assert (codes.count(201), codes.count(409)) == (7, 33)
    on_hand, reserved, _version = stock(stack, loc["id"], meal["id"]) or (None, None, None)
    assert (on_hand, reserved) == (3, 3)
    assert sum(delta for delta, _reason, _order in ledger(stack, loc["id"], meal["id"])) == 3


def test_a_stocking_racing_a_retirement_waits_for_it_and_is_refused(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 2})
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 3, "reason": "replenish"}
    with psycopg.connect(stack.pg_dsn) as retiring, ThreadPoolExecutor(1) as pool:
        # The retirement holds the meal's row while the stocking arrives.
        retiring.execute(
            "UPDATE catalog.meals SET status = 'retired', version = version + 1 WHERE id = %s", [meal["id"]]
        )
        stocking = pool.submit(admin.post, "/inventory/adjustments", json=body)
        wait_until(
            lambda: scalar(
                stack,
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'farmacy_command' AND wait_event_type = 'Lock' "
                "AND query LIKE %s",
                ["%catalog.meals%FOR SHARE%"],
            ),
            10,
            "the stocking to wait on the retiring meal's row",
        )
        retiring.commit()
        answer = stocking.result(timeout=30)
    assert_problem(answer, 409, "meal_id", rule="meal must not be retired", type_="conflict")
    assert stock(stack, loc["id"], meal["id"]) == (2, 0, 1)
    assert ledger(stack, loc["id"], meal["id"]) == [(2, "replenish", None)]
