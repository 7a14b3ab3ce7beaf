"""Catalog commands over HTTP: creation headers, If-Match on updates, and the meal lifecycle."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.api import new_meal
from tests.support.commands import LSN, assert_problem, created, fetch_one, if_match

pytestmark = pytest.mark.integration


def _meal_row(settings: Settings, meal_id: str) -> tuple[Any, ...] | None:
    return fetch_one(settings, "SELECT name, price_cents, status, version FROM catalog.meals WHERE id = %s", [meal_id])


def test_create_meal_is_201_draft_with_etag_location_and_consistency_token(
    stack: Settings, admin: httpx.Client
) -> None:
    r = admin.post("/catalog/meals", json={"name": "Lentil Soup", "calories": 350, "price_cents": 650})
    meal = created(r)
    assert meal["status"] == "draft" and meal["version"] == 1
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"] == f"/catalog/meals/{meal['id']}"
    assert r.headers["X-Consistency-Token"] == meal["consistency_token"]
    assert LSN.match(meal["consistency_token"]), meal["consistency_token"]
    assert _meal_row(stack, meal["id"]) == ("Lentil Soup", 650, "draft", 1)


def test_patch_meal_without_if_match_is_428_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin, price_cents=900)
    r = admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 1000})
    assert_problem(r, 428, "If-Match", rule="required on updates", type_="precondition-required")
    assert _meal_row(stack, meal["id"]) == (meal["name"], 900, "draft", 1)


def test_patch_meal_with_stale_if_match_is_412_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin, price_cents=900)
    created(admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 950}, headers=if_match(1)), 200)
    r = admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 1000}, headers=if_match(1))
    problem = assert_problem(r, 412, "If-Match", rule="must match the current version", type_="version-mismatch")
    assert problem["current_version"] == 2
    assert _meal_row(stack, meal["id"]) == (meal["name"], 950, "draft", 2)


def test_patch_meal_with_current_if_match_is_200_and_bumps_version(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin, price_cents=900)
    r = admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 1000, "name": "Renamed"}, headers=if_match(1))
    body = created(r, 200)
    assert body["version"] == 2 and body["price_cents"] == 1000 and body["name"] == "Renamed"
    assert r.headers["ETag"] == '"2"'
    assert r.headers["X-Consistency-Token"] == body["consistency_token"]
    assert _meal_row(stack, meal["id"]) == ("Renamed", 1000, "draft", 2)


def test_publish_moves_a_draft_meal_to_active(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin)
    body = created(admin.post(f"/catalog/meals/{meal['id']}/publish", headers=if_match(1)), 200)
    assert body["status"] == "active" and body["version"] == 2
    assert _meal_row(stack, meal["id"]) == (meal["name"], meal["price_cents"], "active", 2)


def test_retire_moves_an_active_meal_to_retired(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin)
    created(admin.post(f"/catalog/meals/{meal['id']}/publish"), 200)
    body = created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    assert body["status"] == "retired" and body["version"] == 3
    assert _meal_row(stack, meal["id"]) == (meal["name"], meal["price_cents"], "retired", 3)


def test_publish_a_retired_meal_is_409_invalid_transition(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin)
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    r = admin.post(f"/catalog/meals/{meal['id']}/publish")
    assert_problem(r, 409, "status", rule="valid meal status transition", type_="invalid-transition")
    assert _meal_row(stack, meal["id"]) == (meal["name"], meal["price_cents"], "retired", 2)


def test_editing_a_retired_meal_is_409_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin, price_cents=900)
    created(admin.post(f"/catalog/meals/{meal['id']}/retire"), 200)
    r = admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 1}, headers=if_match(2))
    # The state, not an input field, is to blame: the problem names no field (errors == []).
    problem = assert_problem(r, 409, None, type_="conflict")
    assert "retired" in problem["detail"]
    assert _meal_row(stack, meal["id"]) == (meal["name"], 900, "retired", 2)


def test_publish_with_a_stale_if_match_is_412_and_changes_nothing(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin)
    created(admin.patch(f"/catalog/meals/{meal['id']}", json={"calories": 410}, headers=if_match(1)), 200)
    r = admin.post(f"/catalog/meals/{meal['id']}/publish", headers=if_match(1))
    assert_problem(r, 412, "If-Match", type_="version-mismatch")
    assert _meal_row(stack, meal["id"]) == (meal["name"], meal["price_cents"], "draft", 2)


def test_spice_level_is_stored_edited_and_kept_when_an_edit_leaves_it_out(stack: Settings, admin: httpx.Client) -> None:
    meal = new_meal(admin, spice_level=2)
    assert meal["spice_level"] == 2
    body = created(admin.patch(f"/catalog/meals/{meal['id']}", json={"spice_level": 5}, headers=if_match(1)), 200)
    assert body["spice_level"] == 5
    created(admin.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 990}, headers=if_match(2)), 200)
    spice = fetch_one(stack, "SELECT spice_level FROM catalog.meals WHERE id = %s", [meal["id"]])
    assert spice == (5,)
    assert new_meal(admin)["spice_level"] is None  # not rated


@pytest.mark.parametrize(("value", "rule"), [(6, "less_than_equal"), (-1, "greater_than_equal"), ("hot", "int")])
def test_a_spice_level_out_of_range_is_422_naming_the_field_and_changes_nothing(
    stack: Settings, admin: httpx.Client, value: object, rule: str
) -> None:
    name = f"Too spicy {value}"
    r = admin.post("/catalog/meals", json={"name": name, "calories": 1, "price_cents": 1, "spice_level": value})
    assert_problem(r, 422, "spice_level", rule=rule, type_="validation-error")
    assert fetch_one(stack, "SELECT 1 FROM catalog.meals WHERE name = %s", [name]) is None
