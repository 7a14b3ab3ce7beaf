"""Catalog search with plurals, synonyms and hyphenation, through the whole pipeline: meals created at a location
of their own, read back with the consistency token, the search restricted to that location so other data does not
matter."""

from __future__ import annotations

from typing import Any

import pytest

from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal, query_client

pytestmark = pytest.mark.e2e

MEALS = {
    "salad": ("Harvest Salad", "Greens with roasted squash.", ["greens", "squash"], []),
    "bowl": ("Roasted Vegetable Bowl", "Roasted vegetables over farro.", ["carrots", "farro"], ["vegetarian"]),
    "tofu": ("Tofu Rice Bowl", "Tofu over rice.", ["tofu", "rice"], ["vegetarian", "vegan"]),
    "stew": ("Braised Beef Stew", "Beef with potatoes.", ["beef", "potatoes"], ["gluten_free"]),
    "burger": ("Classic Burger", "Beef patty on a bun.", ["beef", "bun"], []),
}


@pytest.fixture(scope="module")
def world(stack: Settings, admin_token: str) -> tuple[str, str, dict[str, str]]:
    with command_client(stack, admin_token) as http:
        loc = new_location(http)["id"]
        ids: dict[str, str] = {}
        token = ""
        for key, (name, description, ingredients, tags) in MEALS.items():
            meal = new_meal(http, name=name, description=description, ingredients=ingredients, dietary_tags=tags)
            ids[key] = meal["id"]
            http.post(f"/catalog/meals/{meal['id']}/publish").raise_for_status()
            r = http.post(
                "/inventory/adjustments",
                json={"location_id": loc, "meal_id": meal["id"], "delta": 3, "reason": "replenish"},
            )
            token = r.raise_for_status().json()["consistency_token"]
    return loc, token, ids


def _search(stack: Settings, world: tuple[str, str, dict[str, str]], q: str) -> set[str]:
    loc, token, ids = world
    with query_client(stack) as http:
        r = http.get(
            "/catalog/meals", params={"q": q, "location_id": loc}, headers={"X-Consistency-Token": token}, timeout=30
        )
    assert r.status_code == 200, r.text
    names = {v: k for k, v in ids.items()}
    items: list[dict[str, Any]] = r.json()["items"]
    return {names[m["meal_id"]] for m in items}


def test_a_plural_finds_the_singular(stack: Settings, world: tuple[str, str, dict[str, str]]) -> None:
    assert "salad" in _search(stack, world, "salads")


def test_a_synonym_finds_the_word_and_the_dietary_tag(stack: Settings, world: tuple[str, str, dict[str, str]]) -> None:
    found = _search(stack, world, "veggie bowl")
    assert {"bowl", "tofu"} <= found  # "Vegetable" in the name; tagged vegetarian
    assert "burger" not in found and "salad" not in found


def test_gluten_free_finds_meals_tagged_so(stack: Settings, world: tuple[str, str, dict[str, str]]) -> None:
    for q in ("gluten free", "gluten-free"):
        found = _search(stack, world, q)
        assert "stew" in found, q
        assert "burger" not in found, q
