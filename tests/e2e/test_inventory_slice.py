"""The first slice through the real path: command API -> PostgreSQL -> Debezium -> Kafka -> sink ->
Elasticsearch -> query API."""

from __future__ import annotations

import json
import time
import uuid
from functools import partial
from typing import Any

import pytest
from confluent_kafka import Consumer

from farmacy.auth import Role
from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal, query_client, unique_code
from tests.support.tokens import provider_token
from tests.support.topics import assign_at_end
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


def _consumer_at_end(settings: Settings, topic: str) -> Consumer:
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    assign_at_end(consumer, topic)
    return consumer


def _find_stock_event(consumer: Consumer, location_id: str, meal_id: str, on_hand: int) -> dict[str, Any] | None:
    msg = consumer.poll(0.2)
    if msg is None or msg.error():
        return None
    raw_key, raw_value = msg.key(), msg.value()
    if raw_key is None or raw_value is None:
        return None
    key, value = json.loads(raw_key), json.loads(raw_value)
    if key == {"location_id": location_id, "meal_id": meal_id} and value["after"]["on_hand"] == on_hand:
        return dict(value)
    return None


def _stock_item(doc: dict[str, Any], meal_id: str) -> dict[str, Any] | None:
    return next((s for s in doc["stock"] if s["meal_id"] == meal_id), None)


def test_adjustment_travels_through_kafka_to_the_query_api(stack: Settings, admin_token: str) -> None:
    with command_client(stack, admin_token) as cmd, query_client(stack, admin_token) as query:
        meal, loc = new_meal(cmd, name="Slice Bowl"), new_location(cmd, city=unique_code("Slice city"))
        consumer = _consumer_at_end(stack, stack.topic("inventory", "stock"))
        try:
            for delta, expected in ((7, 7), (-3, 4)):
                started = time.monotonic()
                r = cmd.post(
                    "/inventory/adjustments",
                    json={
                        "location_id": loc["id"],
                        "meal_id": meal["id"],
                        "delta": delta,
                        "reason": "replenish" if delta > 0 else "remove",
                    },
                )
                assert r.status_code == 201, r.text
                assert r.json()["on_hand"] == expected
                assert r.headers["X-Consistency-Token"] == r.json()["consistency_token"]

                event = wait_until(
                    partial(_find_stock_event, consumer, loc["id"], meal["id"], expected),
                    15,
                    f"change event with on_hand={expected} on the stock topic",
                )
                assert event["op"] in ("c", "u") and event["after"]["reserved"] == 0

                def visible(e: int = expected) -> dict[str, Any] | None:
                    resp = query.get(f"/inventory/locations/{loc['id']}")
                    if resp.status_code != 200:
                        return None
                    item = _stock_item(resp.json(), meal["id"])
                    return resp.json() if item and item["on_hand"] == e else None

                doc = wait_until(visible, 15, f"query API showing on_hand={expected}")
                lag_ms = (time.monotonic() - started) * 1000
                print(f"\nwrite-to-read lag (delta {delta:+d}): {lag_ms:.0f} ms")
                item = _stock_item(doc, meal["id"])
                assert item == {
                    "meal_id": meal["id"],
                    "meal_name": "Slice Bowl",
                    "meal_status": "draft",
                    "price_cents": 900,
                    "on_hand": expected,
                    "reserved": 0,
                    "available": expected,
                    "low_stock": expected <= 2,
                }
                assert doc["code"] == loc["code"] and doc["operational"] is True
                assert doc["totals"] == {
                    "meals": 1,
                    "on_hand": expected,
                    "reserved": 0,
                    "available": expected,
                    "low_stock_meals": 0,
                }
                assert doc["freshness"]["source_lsn"]
                # The list sums each location's lines the same way (the view keeps no unit totals).
                listed = query.get("/inventory/locations", params={"city": loc["city"], "size": 100})
                assert listed.status_code == 200, listed.text
                (summary,) = [i for i in listed.json()["items"] if i["location_id"] == loc["id"]]
                assert summary["totals"] == doc["totals"]
        finally:
            consumer.close()


def test_unknown_location_is_404_problem_on_the_query_api(stack: Settings, admin_token: str) -> None:
    with query_client(stack, admin_token) as query:
        r = query.get(f"/inventory/locations/{uuid.uuid4()}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_stock_details_are_for_admins_and_operators_customers_see_availability(
    stack: Settings, admin_token: str
) -> None:
    operator = provider_token(stack, Role.OPERATOR, "op")
    customer = provider_token(stack, Role.CUSTOMER, "cust", uuid.uuid4())
    with command_client(stack, admin_token) as cmd:
        meal = new_meal(cmd)
        published = cmd.post(f"/catalog/meals/{meal['id']}/publish")
        assert published.status_code == 200, published.text
    with query_client(stack) as anonymous, query_client(stack, customer) as cust, query_client(stack, operator) as op:
        for path in ("/inventory/locations", f"/inventory/locations/{uuid.uuid4()}"):
            none, as_customer = anonymous.get(path), cust.get(path)
            assert none.status_code == 401 and none.headers["content-type"] == "application/problem+json"
            assert as_customer.status_code == 403 and "operator" in as_customer.json()["detail"]
        assert op.get("/inventory/locations").status_code == 200
        # Customers keep availability: the catalog and the meal's availability need no token at all.
        assert anonymous.get("/catalog/meals", params={"size": 1}).status_code == 200
        availability = f"/inventory/meals/{meal['id']}/availability"
        token = {"X-Consistency-Token": published.json()["consistency_token"]}
        assert cust.get(availability, headers=token).status_code == 200
