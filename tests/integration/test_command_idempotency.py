"""Idempotency-Key on POST commands: replays, reuse with another body, concurrent duplicates, failed commands."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from farmacy.auth import Role
from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from tests.support.commands import (
    active_meal,
    adjust,
    assert_problem,
    client,
    created,
    customer_token,
    fetch_one,
    ledger,
    levels,
    order_body,
    register_customer,
    scalar,
    stock,
    stocked_location,
)
from tests.support.tokens import provider_token

pytestmark = pytest.mark.integration


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


def _assert_replay_of(first: httpx.Response, replay: httpx.Response) -> None:
    """A replay answers with the first response: the same status, body and headers, except its consistency token,
    which is the WAL position at the replay's time, never older than the first one's (a read with it sees the
    first request's effect)."""
    assert replay.status_code == first.status_code
    assert replay.headers["Idempotent-Replayed"] == "true"
    body, again = first.json(), replay.json()
    token, replayed_token = body.pop("consistency_token"), again.pop("consistency_token")
    assert again == body
    assert replayed_token == replay.headers["X-Consistency-Token"]
    assert lsn_int(replayed_token) >= lsn_int(token) == lsn_int(first.headers["X-Consistency-Token"])


def _meal_body() -> dict[str, Any]:
    return {"name": f"Idem {uuid.uuid4().hex}", "calories": 300, "price_cents": 700}


def _meals_named(settings: Settings, name: str) -> int:
    return int(scalar(settings, "SELECT count(*) FROM catalog.meals WHERE name = %s", [name]))


def _key_rows(settings: Settings, key: str) -> int:
    return int(scalar(settings, "SELECT count(*) FROM platform.idempotency_keys WHERE key = %s", [key]))


def test_same_key_and_body_twice_replays_the_first_response_and_creates_one_row(
    stack: Settings, admin: httpx.Client
) -> None:
    key, body = _key(), _meal_body()
    first = admin.post("/catalog/meals", json=body, headers=key)
    second = admin.post("/catalog/meals", json=body, headers=key)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    _assert_replay_of(first, second)
    for header in ("ETag", "Location"):
        assert second.headers[header] == first.headers[header]
    assert _meals_named(stack, body["name"]) == 1
    assert _key_rows(stack, key["Idempotency-Key"]) == 1


def test_same_key_with_key_order_and_spacing_changes_is_the_same_request(stack: Settings, admin: httpx.Client) -> None:
    key, body = _key(), _meal_body()
    first = admin.post("/catalog/meals", json=body, headers=key)
    created(first)
    reordered = json.dumps(dict(reversed(body.items())), indent=2)
    r = admin.post("/catalog/meals", content=reordered, headers={**key, "Content-Type": "application/json"})
    _assert_replay_of(first, r)
    assert _meals_named(stack, body["name"]) == 1


def test_same_key_with_a_different_body_is_422_on_the_key_and_writes_nothing(
    stack: Settings, admin: httpx.Client
) -> None:
    key, body, other = _key(), _meal_body(), _meal_body()
    created(admin.post("/catalog/meals", json=body, headers=key))
    r = admin.post("/catalog/meals", json=other, headers=key)
    assert_problem(r, 422, "Idempotency-Key", rule="must not be reused with a different request")
    assert _meals_named(stack, body["name"]) == 1
    assert _meals_named(stack, other["name"]) == 0


def test_ten_concurrent_requests_with_one_key_create_one_row_and_answer_the_same_id(
    stack: Settings, admin_token: str
) -> None:
    key, body, n = _key(), _meal_body(), 10
    start = threading.Barrier(n)

    def send(_: int) -> httpx.Response:
        with client(stack, admin_token) as http:
            start.wait(timeout=10)
            return http.post("/catalog/meals", json=body, headers=key)

    with ThreadPoolExecutor(max_workers=n) as pool:
        responses = list(pool.map(send, range(n)))

    assert [r.status_code for r in responses] == [201] * n, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == n - 1
    assert _meals_named(stack, body["name"]) == 1
    assert _key_rows(stack, key["Idempotency-Key"]) == 1


def test_a_failed_command_does_not_consume_its_key(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 2})
    key = _key()
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": -3, "reason": "remove"}

    r = admin.post("/inventory/adjustments", json=body, headers=key)
    assert_problem(r, 409, "delta", type_="insufficient-stock")
    assert _key_rows(stack, key["Idempotency-Key"]) == 0
    assert stock(stack, loc["id"], meal["id"]) == (2, 0, 1)  # the first stocking creates the row: version 1

    adjust(admin, loc["id"], meal["id"], 5, "replenish")  # fix the cause
    retried = admin.post("/inventory/adjustments", json=body, headers=key)
    assert created(retried)["on_hand"] == 4
    assert "Idempotent-Replayed" not in retried.headers
    replayed = admin.post("/inventory/adjustments", json=body, headers=key)
    _assert_replay_of(retried, replayed)
    assert levels(stack, loc["id"], meal["id"]) == (4, 0)
    assert [e[0] for e in ledger(stack, loc["id"], meal["id"])] == [2, 5, -3]


def test_a_replayed_order_reserves_stock_once(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 5})
    customer = register_customer(stack)
    body, key = order_body(loc["id"], [(meal["id"], 2)]), _key()
    with client(stack, customer_token(stack, customer["id"])) as http:
        first = created(http.post("/orders", json=body, headers=key))
        second = http.post("/orders", json=body, headers=key)
    assert second.status_code == 201 and second.json()["id"] == first["id"]
    assert levels(stack, loc["id"], meal["id"]) == (5, 2)
    assert scalar(stack, "SELECT count(*) FROM ordering.orders WHERE customer_id = %s", [customer["id"]]) == 1


def test_the_same_key_used_by_two_principals_does_not_collide(stack: Settings, admin: httpx.Client) -> None:
    key, body, other = _key(), _meal_body(), _meal_body()
    first = created(admin.post("/catalog/meals", json=body, headers=key))
    with client(stack, provider_token(stack, Role.ADMIN, "test-admin-2")) as http:
        r = http.post("/catalog/meals", json=other, headers=key)
    second = created(r)
    assert "Idempotent-Replayed" not in r.headers and second["id"] != first["id"]
    assert _meals_named(stack, body["name"]) == _meals_named(stack, other["name"]) == 1
    assert _key_rows(stack, key["Idempotency-Key"]) == 2


def test_the_response_is_stored_with_the_key(stack: Settings, admin: httpx.Client) -> None:
    """The key and its response commit together (no key is ever left without its response). The consistency token
    is not stored (it is known only after the commit): a replay answers with the WAL position at its own time."""
    key = _key()
    r = admin.post("/catalog/meals", json=_meal_body(), headers=key)
    assert r.status_code == 201
    row = fetch_one(
        stack,
        "SELECT status_code, response, headers FROM platform.idempotency_keys WHERE key = %s",
        [key["Idempotency-Key"]],
    )
    assert row is not None
    status_code, response, headers = row
    answered = r.json()
    assert answered["consistency_token"] == r.headers["X-Consistency-Token"] != ""
    assert status_code == 201 and response == {**answered, "consistency_token": ""}
    assert headers == {"ETag": r.headers["ETag"], "Location": r.headers["Location"], "X-Consistency-Token": ""}


def test_an_expired_key_is_free_again(stack: Settings, admin: httpx.Client) -> None:
    key = _key()
    first = created(admin.post("/catalog/meals", json=_meal_body(), headers=key))
    with psycopg.connect(stack.pg_dsn) as conn:
        conn.execute(
            "UPDATE platform.idempotency_keys SET created_at = now() - make_interval(secs => %s) WHERE key = %s",
            [stack.idempotency_ttl_s + 1, key["Idempotency-Key"]],
        )
    body = _meal_body()  # another request with the same key: a new command, not 422
    second = admin.post("/catalog/meals", json=body, headers=key)
    assert second.status_code == 201, second.text
    assert "Idempotent-Replayed" not in second.headers and second.json()["id"] != first["id"]
    assert _meals_named(stack, body["name"]) == 1
    assert _key_rows(stack, key["Idempotency-Key"]) == 1
