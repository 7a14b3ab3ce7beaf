"""No oversell under concurrency: 100 simultaneous orders compete for 10 units at one fridge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal
from tests.support.commands import post_all_at_once

pytestmark = pytest.mark.integration


def test_100_concurrent_orders_for_10_units_sell_exactly_10(stack: Settings, admin_token: str) -> None:
    with command_client(stack, admin_token) as cmd:
        meal, loc = new_meal(cmd), new_location(cmd)
        assert cmd.post(f"/catalog/meals/{meal['id']}/publish").status_code == 200
        r = cmd.post(
            "/inventory/adjustments",
            json={"location_id": loc["id"], "meal_id": meal["id"], "delta": 10, "reason": "replenish"},
        )
        assert r.status_code == 201
        customer = cmd.post("/customers", json={"email": f"race-{loc['code'].lower()}@example.com", "name": "R"})
        assert customer.status_code == 201
    now = datetime.now(UTC)
    body = {
        "customer_id": customer.json()["id"],
        "location_id": loc["id"],
        "pickup_from": (now + timedelta(hours=1)).isoformat(),
        "pickup_until": (now + timedelta(hours=2)).isoformat(),
        "lines": [{"meal_id": meal["id"], "quantity": 1}],
    }

    codes = post_all_at_once(stack, admin_token, "/orders", body, 100)
    assert codes.count(201) == 10
    assert codes.count(409) == 90
    with psycopg.connect(stack.pg_dsn) as conn:
        stock = conn.execute(
            "SELECT on_hand, reserved FROM inventory.stock WHERE location_id = %s AND meal_id = %s",
            [loc["id"], meal["id"]],
        ).fetchone()
        orders = conn.execute(
            "SELECT count(*), coalesce(sum(l.quantity), 0) FROM ordering.orders o "
            "JOIN ordering.order_lines l ON l.order_id = o.id WHERE o.location_id = %s",
            [loc["id"]],
        ).fetchone()
    assert stock == (10, 10)
    assert orders == (10, 10)
