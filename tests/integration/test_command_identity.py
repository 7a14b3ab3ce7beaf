"""Identity on the command API: bearer tokens are required and roles guard each command."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.commands import (
    active_meal,
    assert_problem,
    client,
    created,
    customer_token,
    fetch_one,
    operator_token,
    order_body,
    plan_body,
    register_customer,
    scalar,
    stocked_location,
)
from tests.support.tokens import BAD_TOKENS, bad_token

pytestmark = pytest.mark.integration


def _meal_body() -> dict[str, Any]:
    return {"name": f"Auth {uuid.uuid4().hex}", "calories": 300, "price_cents": 700}


def _meals_named(settings: Settings, name: str) -> int:
    return int(scalar(settings, "SELECT count(*) FROM catalog.meals WHERE name = %s", [name]))


def _assert_401(r: httpx.Response) -> None:
    problem = assert_problem(r, 401, None, type_="not-authenticated")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert problem["title"] == "Not authenticated"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/catalog/meals", _meal_body()),
        ("/inventory/adjustments", {}),
        ("/orders", {}),
        ("/subscription/plans", {}),
        (f"/orders/{uuid.uuid4()}/cancel", None),
    ],
)
def test_no_token_is_401(stack: Settings, path: str, body: dict[str, Any] | None) -> None:
    with client(stack) as anon:
        r = anon.post(path, json=body)
    _assert_401(r)
    if path == "/catalog/meals":
        assert body is not None and _meals_named(stack, body["name"]) == 0


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_garbage_or_invalid_token_is_401_and_writes_nothing(stack: Settings, kind: str) -> None:
    body = _meal_body()
    with client(stack, bad_token(stack, kind)) as http:
        r = http.post("/catalog/meals", json=body)
    _assert_401(r)
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    assert _meals_named(stack, body["name"]) == 0


def test_customer_token_on_create_meal_is_403_and_writes_nothing(stack: Settings) -> None:
    customer = register_customer(stack)
    body = _meal_body()
    with client(stack, customer_token(stack, customer["id"])) as http:
        r = http.post("/catalog/meals", json=body)
    problem = assert_problem(r, 403, None, type_="forbidden")
    assert "customer" in problem["detail"]
    assert _meals_named(stack, body["name"]) == 0


def test_customer_token_on_create_plan_is_403_and_writes_nothing(stack: Settings) -> None:
    customer = register_customer(stack)
    body = plan_body()
    with client(stack, customer_token(stack, customer["id"])) as http:
        r = http.post("/subscription/plans", json=body)
    assert_problem(r, 403, None, type_="forbidden")
    assert scalar(stack, "SELECT count(*) FROM subscription.plans WHERE code = %s", [body["code"]]) == 0


def test_customer_token_on_mark_ready_is_403_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 3})
    customer = register_customer(stack)
    with client(stack, customer_token(stack, customer["id"])) as http:
        order = created(http.post("/orders", json=order_body(loc["id"], [(meal["id"], 1)])))
        r = http.post(f"/orders/{order['id']}/ready")
    assert_problem(r, 403, None, type_="forbidden")
    assert fetch_one(stack, "SELECT status, version FROM ordering.orders WHERE id = %s", [order["id"]]) == ("placed", 1)


def test_operator_token_on_create_meal_is_403_and_writes_nothing(stack: Settings) -> None:
    body = _meal_body()
    with client(stack, operator_token(stack)) as http:
        r = http.post("/catalog/meals", json=body)
    problem = assert_problem(r, 403, None, type_="forbidden")
    assert "operator" in problem["detail"]
    assert _meals_named(stack, body["name"]) == 0


def test_customer_token_without_customer_id_is_401(stack: Settings) -> None:
    with client(stack, bad_token(stack, "customer-without-id")) as http:
        r = http.post("/orders", json={})
    _assert_401(r)
