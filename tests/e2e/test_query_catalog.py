"""The query API's catalog, orders and subscriptions through the real pipeline (command API -> PostgreSQL ->
Debezium -> Kafka -> sinks -> Elasticsearch -> query API).

One module-wide world of meals named with a word no other data has, stocked at new locations around a
random remote spot, read with the consistency token of the last command, so the assertions are exact
while other tests write at the same time.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from api.query.catalog_query import GeoPoint, distance_km, encode_cursor
from farmacy.auth import Role
from farmacy.settings import Settings
from farmacy.vocabulary import stock_level
from tests.support.api import command_client, new_location, new_meal, query_client
from tests.support.commands import created, levels, order_body, plan_body, register_customer
from tests.support.tokens import provider_token
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"
FAR_FUTURE = "FFFFFFFF/0"

# name, dietary tags, allergens, calories, price_cents
MEALS = {
    "A": ("Quinoa Bowl", ["vegan", "gluten_free"], ["sesame"], 450, 900),
    "B": ("Salmon Plate", ["pescatarian", "gluten_free", "high_protein"], ["fish"], 650, 1500),
    "C": ("Tofu Wrap", ["vegan", "dairy_free"], ["soy", "wheat"], 520, 1100),
    "D": ("Egg Muffin", ["vegetarian"], ["eggs", "milk", "wheat"], 300, 700),
    "E": ("Keto Salad", ["keto", "gluten_free"], [], 250, 1300),
}
ACTIVE = set(MEALS)
SPICE = {"A": 0, "B": 2, "C": 4, "D": None, "E": 5}  # D is not rated


@dataclass
class World:
    word: str  # in every meal name, in no other data
    origin: GeoPoint
    meals: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> command response
    locs: dict[int, dict[str, Any]] = field(default_factory=dict)
    geo: dict[int, GeoPoint] = field(default_factory=dict)
    draft: dict[str, Any] = field(default_factory=dict)
    retired: dict[str, Any] = field(default_factory=dict)
    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    subs: dict[str, dict[str, Any]] = field(default_factory=dict)
    token: str = ""  # consistency token of the last command

    def ids(self, *keys: str) -> set[str]:
        return {self.meals[k]["id"] for k in keys}

    def key_of(self, meal_id: str) -> str:
        return next(k for k, m in self.meals.items() if m["id"] == meal_id)

    def near(self, i: int) -> str:
        return f"{self.geo[i].lat},{self.geo[i].lon}"

    def name(self, key: str) -> str:
        return f"{self.word.capitalize()} {MEALS[key][0]}"


def _track(world: World, r: httpx.Response, status: int = 201) -> dict[str, Any]:
    body = created(r, status)
    world.token = r.headers["X-Consistency-Token"]
    return body


def _customer_token(settings: Settings, customer_id: str) -> str:
    return provider_token(settings, Role.CUSTOMER, f"customer-{customer_id}", customer_id)


@pytest.fixture(scope="module")
def world(stack: Settings, admin_token: str) -> World:
    rng = random.Random()
    w = World(
        word="zq" + uuid.uuid4().hex[:10],
        origin=GeoPoint(round(rng.uniform(-30, 30), 4), round(rng.uniform(-170, -130), 4)),
    )
    o = w.origin
    # 1: the origin; 2: ~7 km away (a kiosk); 3: ~150 km away; 4: ~1 km away, a fridge never switched on;
    # 5: ~2 km away, online when stocked and then offline.
    w.geo = {
        1: o,
        2: GeoPoint(o.lat + 0.05, o.lon + 0.05),
        3: GeoPoint(o.lat + 1.0, o.lon + 1.0),
        4: GeoPoint(o.lat + 0.01, o.lon),
        5: GeoPoint(o.lat, o.lon + 0.02),
    }
    city, far_city = f"{w.word}ville", f"{w.word}burg"
    with command_client(stack, admin_token) as admin:
        for key, (name, tags, allergens, calories, price) in MEALS.items():
            meal = new_meal(
                admin,
                name=w.name(key),
                description=f"{name.lower()} test meal",
                ingredients=[name.split()[0].lower()],
                dietary_tags=tags,
                allergens=allergens,
                calories=calories,
                price_cents=price,
                **({"spice_level": SPICE[key]} if SPICE[key] is not None else {}),
            )
            w.meals[key] = _track(w, admin.post(f"/catalog/meals/{meal['id']}/publish"), 200)
        w.draft = new_meal(admin, name=f"{w.word.capitalize()} Draft Soup", dietary_tags=["vegan"])
        retired = new_meal(admin, name=f"{w.word.capitalize()} Retired Stew")
        _track(w, admin.post(f"/catalog/meals/{retired['id']}/publish"), 200)
        w.retired = _track(w, admin.post(f"/catalog/meals/{retired['id']}/retire"), 200)

        kinds = {1: ("smart_fridge", "online"), 2: ("kiosk", "open"), 3: ("smart_fridge", "online")}
        kinds |= {4: ("smart_fridge", "installed_off"), 5: ("smart_fridge", "online")}
        for i, (kind, status) in kinds.items():
            w.locs[i] = new_location(
                admin,
                name=f"{w.word} place {i}",
                kind=kind,
                status=status,
                city=far_city if i == 3 else city,
                latitude=w.geo[i].lat,
                longitude=w.geo[i].lon,
            )
        stock = [("A", 1, 10), ("A", 2, 2), ("B", 2, 5), ("B", 3, 4), ("C", 3, 6), ("D", 4, 7), ("E", 5, 5)]
        for key, i, units in stock:
            body = {
                "location_id": w.locs[i]["id"],
                "meal_id": w.meals[key]["id"],
                "delta": units,
                "reason": "replenish",
            }
            _track(w, admin.post("/inventory/adjustments", json=body))
        _track(w, admin.post(f"/locations/{w.locs[5]['id']}/status", json={"status": "offline"}), 200)

        w.customers = [register_customer(stack), register_customer(stack)]
        c1, c2 = (_customer_token(stack, c["id"]) for c in w.customers)
        with command_client(stack, c1) as cust1, command_client(stack, c2) as cust2:
            w.orders["placed1"] = _track(
                w, cust1.post("/orders", json=order_body(w.locs[1]["id"], [(w.meals["A"]["id"], 2)]))
            )
            w.orders["cancelled1"] = _track(
                w, cust1.post("/orders", json=order_body(w.locs[3]["id"], [(w.meals["C"]["id"], 1)]))
            )
            oid = w.orders["cancelled1"]["id"]
            w.orders["cancelled1"] = _track(w, cust1.post(f"/orders/{oid}/cancel"), 200)
            w.orders["placed2"] = _track(
                w, cust2.post("/orders", json=order_body(w.locs[2]["id"], [(w.meals["B"]["id"], 1)]))
            )

            w.plan = created(admin.post("/subscription/plans", json=plan_body()))
            sub = {"plan_id": w.plan["id"]}
            w.subs["active1"] = _track(w, cust1.post("/subscriptions", json={**sub, "location_id": w.locs[1]["id"]}))
            w.subs["paused2"] = _track(w, cust2.post("/subscriptions", json={**sub, "location_id": w.locs[2]["id"]}))
            until = (date.today() + timedelta(days=10)).isoformat()
            sid = w.subs["paused2"]["id"]
            w.subs["paused2"] = _track(w, cust2.post(f"/subscriptions/{sid}/pause", json={"until": until}), 200)
    return w


@pytest.fixture(scope="module")
def query(stack: Settings) -> Iterator[httpx.Client]:
    with query_client(stack) as client:
        yield client


def read(client: httpx.Client, path: str, token: str, view: str, expect: int = 200, **params: Any) -> dict[str, Any]:
    """GET with the consistency token; retries while the view is still behind (503). Checks `view`."""

    def attempt() -> httpx.Response | None:
        r = client.get(path, params=params, headers={"X-Consistency-Token": token})
        return None if r.status_code == 503 else r

    r = wait_until(attempt, 30, f"{view} view reaching {token} for {path}", interval=0.1)
    assert r.status_code == expect, f"{path} {params}: {r.status_code} {r.text}"
    body: dict[str, Any] = r.json()
    if expect == 200:
        assert body["view"]["view"] == view
        assert body["view"]["applied_lsn"]
        assert _lsn(body["view"]["applied_lsn"]) >= _lsn(token)
    else:
        assert r.headers["content-type"] == PROBLEM
    return body


def _lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def search(client: httpx.Client, w: World, **params: Any) -> dict[str, Any]:
    return read(client, "/catalog/meals", w.token, "catalog", **params)


def mine(client: httpx.Client, w: World, **params: Any) -> set[str]:
    """Keys of the meals a search restricted to this world's word returns (all on one page)."""
    body = search(client, w, q=w.word, size=100, **params)
    assert body["next_cursor"] is None
    return {w.key_of(m["meal_id"]) for m in body["items"]}


def mine_q(client: httpx.Client, w: World, q: str) -> set[str]:
    body = search(client, w, q=q, size=100)
    return {w.key_of(m["meal_id"]) for m in body["items"] if m["meal_id"] in w.ids(*ACTIVE)}


def walk_pages(client: httpx.Client, w: World, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        body = search(client, w, **params, **({"cursor": cursor} if cursor else {}))
        assert len(body["items"]) <= params["size"]
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert len(body["items"]) == params["size"]
    raise AssertionError("pagination does not end")


# --- catalog search ----------------------------------------------------------------------------------


def test_the_world_is_in_the_catalog(query: httpx.Client, world: World) -> None:
    body = search(query, world, q=world.word, size=100)
    assert {m["meal_id"] for m in body["items"]} == world.ids(*ACTIVE)
    assert body["total"] == len(ACTIVE)
    assert body["view"]["waited_ms"] >= 0


@pytest.mark.parametrize("typo", ["substitution", "deletion", "two-edits"])
def test_a_typo_in_the_word_still_finds_the_meals(query: httpx.Client, world: World, typo: str) -> None:
    w = world.word  # 12 characters: fuzziness AUTO allows 2 edits (after the first, fixed character)
    q = {"substitution": w[:6] + "x" + w[7:], "deletion": w[:5] + w[6:], "two-edits": w[:4] + "xx" + w[6:]}[typo]
    assert q != w
    body = search(query, world, q=q, size=100)
    assert world.ids(*ACTIVE) <= {m["meal_id"] for m in body["items"]}


def test_a_typo_in_a_short_word_finds_the_meal(query: httpx.Client, world: World) -> None:
    items = search(query, world, q=f"{world.word} quinao")["items"]
    assert items[0]["meal_id"] == world.meals["A"]["id"]


def test_every_word_of_a_two_word_query_must_match(query: httpx.Client, world: World) -> None:
    assert mine_q(query, world, f"{world.word} quinoa") == {"A"}


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["gluten_free"], {"A", "B", "E"}),
        (["vegan"], {"A", "C"}),
        (["vegan", "gluten_free"], {"A"}),
        (["vegan", "keto"], set()),
    ],
)
def test_dietary_tags_are_all_of(query: httpx.Client, world: World, tags: list[str], expected: set[str]) -> None:
    assert mine(query, world, dietary_tags=tags) == expected


@pytest.mark.parametrize(
    ("allergens", "expected"),
    [
        (["wheat"], {"A", "B", "E"}),
        (["wheat", "fish"], {"A", "E"}),
        (["peanuts"], ACTIVE),
        (["sesame", "fish", "soy", "eggs"], {"E"}),
    ],
)
def test_exclude_allergens_is_none_of(
    query: httpx.Client, world: World, allergens: list[str], expected: set[str]
) -> None:
    assert mine(query, world, exclude_allergens=allergens) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"price_min": 900, "price_max": 1300}, {"A", "C", "E"}),  # bounds are inclusive
        ({"price_max": 899}, {"D"}),
        ({"price_min": 1301}, {"B"}),
        ({"calories_min": 400, "calories_max": 600}, {"A", "C"}),
        ({"calories_max": 300}, {"D", "E"}),
        ({"price_max": 1200, "calories_min": 400}, {"A", "C"}),
    ],
)
def test_price_and_calorie_ranges(
    query: httpx.Client, world: World, params: dict[str, int], expected: set[str]
) -> None:
    assert mine(query, world, **params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"spice_level_min": 4}, {"C", "E"}),
        ({"spice_level_max": 2}, {"A", "B"}),
        ({"spice_level_min": 0}, {"A", "B", "C", "E"}),  # not rated: left out of any spice filter
        ({"spice_level_min": 1, "spice_level_max": 4}, {"B", "C"}),
    ],
)
def test_spice_level_ranges_leave_out_meals_not_rated(
    query: httpx.Client, world: World, params: dict[str, int], expected: set[str]
) -> None:
    assert mine(query, world, **params) == expected


def test_a_meal_shows_its_spice_level_or_null(query: httpx.Client, world: World) -> None:
    for key in ("C", "D"):
        body = read(query, f"/catalog/meals/{world.meals[key]['id']}", world.token, "catalog", 200)
        assert body["spice_level"] == SPICE[key]


def test_spice_level_out_of_range_is_422_naming_it(query: httpx.Client, world: World) -> None:
    body = read(query, "/catalog/meals", world.token, "catalog", 422, spice_level_max=6)
    assert body["errors"][0]["field"] == "spice_level_max"
    body = read(query, "/catalog/meals", world.token, "catalog", 422, spice_level_min=3, spice_level_max=2)
    assert body["errors"][0]["field"] == "spice_level_min"


def test_min_above_max_is_422(query: httpx.Client, world: World) -> None:
    body = read(query, "/catalog/meals", world.token, "catalog", 422, price_min=10, price_max=9)
    assert body["errors"][0]["field"] == "price_min"


@pytest.mark.parametrize(("loc", "expected"), [(1, {"A"}), (2, {"A", "B"}), (3, {"B", "C"}), (4, set()), (5, set())])
def test_location_filter_only_where_available(query: httpx.Client, world: World, loc: int, expected: set[str]) -> None:
    # 4 was never switched on, 5 went offline: their stock is not available anywhere.
    assert mine(query, world, location_id=world.locs[loc]["id"]) == expected


def test_near_with_radius_finds_only_meals_available_within_it(query: httpx.Client, world: World) -> None:
    # No text: the remote spot has nothing but this world.
    body = search(query, world, near=world.near(1), radius_km=20, size=100)
    assert {m["meal_id"] for m in body["items"]} == world.ids("A", "B")
    assert mine(query, world, near=world.near(1), radius_km=1) == {"A"}
    assert mine(query, world, near=world.near(3), radius_km=20) == {"B", "C"}
    assert mine(query, world, near=world.near(1), radius_km=500) == {"A", "B", "C"}


def test_radius_without_near_is_422(query: httpx.Client, world: World) -> None:
    body = read(query, "/catalog/meals", world.token, "catalog", 422, radius_km=5)
    assert body["errors"][0]["field"] == "radius_km"


def test_available_now(query: httpx.Client, world: World) -> None:
    assert mine(query, world, available_now=True) == {"A", "B", "C"}
    assert mine(query, world, available_now=False) == ACTIVE
    items = {world.key_of(m["meal_id"]): m for m in search(query, world, q=world.word, size=100)["items"]}
    for key in ("D", "E"):  # D only at a fridge never switched on, E only at one that went offline
        assert items[key]["available_now"] is False
        assert items[key]["availability"] == []
        assert items[key]["totals"] == {"locations": 0, "well_stocked": 0}


def test_sort_by_price(query: httpx.Client, world: World) -> None:
    ascending = [world.key_of(m["meal_id"]) for m in search(query, world, q=world.word, sort="price")["items"]]
    assert ascending == ["D", "A", "C", "E", "B"]
    descending = [world.key_of(m["meal_id"]) for m in search(query, world, q=world.word, sort="price_desc")["items"]]
    assert descending == ["B", "E", "C", "A", "D"]


def test_sort_by_distance_nearest_first(query: httpx.Client, world: World) -> None:
    items = search(query, world, q=world.word, sort="distance", near=world.near(1))["items"]
    keys = [world.key_of(m["meal_id"]) for m in items]
    assert keys[:3] == ["A", "B", "C"]
    assert set(keys[3:]) == {"D", "E"}  # available nowhere: last, with no distance
    distances = [m["distance_km"] for m in items[:3]]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(0, abs=0.01)
    assert distances[1] == pytest.approx(distance_km(world.origin, world.geo[2].lat, world.geo[2].lon), abs=0.01)
    assert distances[2] == pytest.approx(distance_km(world.origin, world.geo[3].lat, world.geo[3].lon), abs=0.01)
    assert [m["distance_km"] for m in items[3:]] == [None, None]
    for m in items[:3]:  # each meal's own locations nearest first, and its distance is the nearest one
        per_location = [a["distance_km"] for a in m["availability"]]
        assert per_location == sorted(per_location) and m["distance_km"] == per_location[0]


def test_sort_by_distance_from_far_away_reverses(query: httpx.Client, world: World) -> None:
    items = search(query, world, q=world.word, sort="distance", near=world.near(3))["items"]
    assert {world.key_of(m["meal_id"]) for m in items[:2]} == {"B", "C"}
    assert world.key_of(items[2]["meal_id"]) == "A"


def test_sort_by_distance_needs_near(query: httpx.Client, world: World) -> None:
    body = read(query, "/catalog/meals", world.token, "catalog", 422, sort="distance")
    assert body["errors"][0]["field"] == "sort"


def test_facets_count_the_whole_result_not_the_page(query: httpx.Client, world: World) -> None:
    facets = search(query, world, q=world.word, size=1)["facets"]
    tags = {b["value"]: b["count"] for b in facets["dietary_tags"]}
    assert tags == {
        "gluten_free": 3,
        "vegan": 2,
        "pescatarian": 1,
        "high_protein": 1,
        "dairy_free": 1,
        "vegetarian": 1,
        "keto": 1,
    }
    cities = {b["value"]: b["count"] for b in facets["cities"]}
    assert cities == {f"{world.word}ville": 2, f"{world.word}burg": 2}
    bands = {b["value"]: b["count"] for b in facets["price_bands"]}
    assert bands == {"under_8": 1, "8_to_12": 2, "12_to_16": 2, "16_plus": 0}


def test_facets_follow_the_filters(query: httpx.Client, world: World) -> None:
    facets = search(query, world, q=world.word, dietary_tags=["vegan"])["facets"]
    assert {b["value"]: b["count"] for b in facets["dietary_tags"]} == {"vegan": 2, "gluten_free": 1, "dairy_free": 1}


@pytest.mark.parametrize(
    "params",
    [{"sort": "price"}, {"sort": "price_desc"}, {"sort": "relevance"}, {"sort": "availability"}, {"sort": "distance"}],
)
def test_cursor_pagination_visits_every_meal_once(query: httpx.Client, world: World, params: dict[str, str]) -> None:
    if params["sort"] == "distance":
        params = {**params, "near": world.near(2)}
    items = walk_pages(query, world, q=world.word, size=2, **params)
    ids = [m["meal_id"] for m in items]
    assert len(ids) == len(set(ids)), f"duplicates: {ids}"
    assert set(ids) == world.ids(*ACTIVE)
    one_page = [m["meal_id"] for m in search(query, world, q=world.word, size=100, **params)["items"]]
    assert ids == one_page  # the same order as one big page


@pytest.mark.parametrize("values", [["x"], ["cheap", "x"], [1, 2, 3]])
@pytest.mark.parametrize("path", ["/catalog/meals?sort=price", "/orders", "/subscriptions"])
def test_tampered_cursor_is_422_naming_cursor(stack: Settings, admin_token: str, path: str, values: list[Any]) -> None:
    with _as(stack, admin_token) as client:
        r = client.get(path, params={"cursor": encode_cursor(values)})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["errors"][0]["field"] == "cursor"


def test_garbage_cursor_is_422_naming_cursor(query: httpx.Client, world: World) -> None:
    body = read(query, "/catalog/meals", world.token, "catalog", 422, cursor="not-a-cursor!")
    assert body["errors"][0]["field"] == "cursor"


# --- one meal, availability, suggest -----------------------------------------------------------------


def test_meal_detail_availability_is_the_level_of_on_hand_minus_reserved(
    stack: Settings, query: httpx.Client, world: World
) -> None:
    low, ok = "low", "available"  # A at place 2: 2 units, the low-stock threshold
    for key, expected in {"A": {1: ok, 2: low}, "B": {2: ok, 3: ok}, "C": {3: ok}}.items():
        meal = world.meals[key]
        doc = read(query, f"/catalog/meals/{meal['id']}", world.token, "catalog")
        assert doc["name"] == world.name(key) and doc["price_cents"] == MEALS[key][4]
        by_loc = {a["location_id"]: a["level"] for a in doc["availability"]}
        assert by_loc == {world.locs[i]["id"]: level for i, level in expected.items()}
        for i in expected:  # against the master
            on_hand, reserved = levels(stack, world.locs[i]["id"], meal["id"]) or (0, 0)
            assert by_loc[world.locs[i]["id"]] == stock_level(on_hand - reserved)
        assert "quantity" not in doc["availability"][0]  # exact counts are the inventory's
        well_stocked = sum(1 for level in expected.values() if level == ok)
        assert doc["totals"] == {"locations": len(expected), "well_stocked": well_stocked}
        assert doc["available_now"] is True and doc["distance_km"] is None


def test_sort_by_availability_is_well_stocked_places_then_places(query: httpx.Client, world: World) -> None:
    # B: 2 places, both well stocked; A: 2 places, 1 low; C: 1 place; D and E: none (meal id order).
    order = [world.key_of(m["meal_id"]) for m in search(query, world, q=world.word, sort="availability")["items"]]
    assert order[:3] == ["B", "A", "C"]
    assert order[3:] == sorted(["D", "E"], key=lambda k: world.meals[k]["id"])


def test_meal_detail_with_near_is_nearest_first(query: httpx.Client, world: World) -> None:
    doc = read(query, f"/catalog/meals/{world.meals['B']['id']}", world.token, "catalog", near=world.near(3))
    assert [a["location_id"] for a in doc["availability"]] == [world.locs[3]["id"], world.locs[2]["id"]]
    assert doc["distance_km"] == pytest.approx(0, abs=0.01)


@pytest.mark.parametrize("which", ["draft", "retired", "unknown"])
def test_meal_not_active_is_404(query: httpx.Client, world: World, which: str) -> None:
    meal_id = {"draft": world.draft.get("id"), "retired": world.retired.get("id"), "unknown": str(uuid.uuid4())}[which]
    read(query, f"/catalog/meals/{meal_id}", world.token, "catalog", 404)
    read(query, f"/inventory/meals/{meal_id}/availability", world.token, "catalog", 404)


def test_draft_and_retired_meals_are_not_searchable(query: httpx.Client, world: World) -> None:
    names = {m["name"] for m in search(query, world, q=world.word, size=100)["items"]}
    assert not any("Draft" in n or "Retired" in n for n in names)


@pytest.mark.parametrize(("origin", "expected"), [(1, [2, 3]), (3, [3, 2])])
def test_inventory_availability_lists_locations_nearest_first(
    query: httpx.Client, world: World, origin: int, expected: list[int]
) -> None:
    meal = world.meals["B"]
    body = read(query, f"/inventory/meals/{meal['id']}/availability", world.token, "catalog", near=world.near(origin))
    assert body["meal_id"] == meal["id"] and body["name"] == world.name("B")
    assert [a["location_id"] for a in body["locations"]] == [world.locs[i]["id"] for i in expected]
    distances = [a["distance_km"] for a in body["locations"]]
    assert distances == sorted(distances)
    assert {a["level"] for a in body["locations"]} == {"available"}


def test_inventory_availability_without_near_is_well_stocked_first(query: httpx.Client, world: World) -> None:
    body = read(query, f"/inventory/meals/{world.meals['A']['id']}/availability", world.token, "catalog")
    assert body["freshness"]["source_lsn"] and body["freshness"]["indexed_at"]  # which build of the document
    assert [(a["location_id"], a["level"]) for a in body["locations"]] == [
        (world.locs[1]["id"], "available"),
        (world.locs[2]["id"], "low"),
    ]
    assert all(a["distance_km"] is None for a in body["locations"])


def test_suggest_completes_the_word(query: httpx.Client, world: World) -> None:
    search(query, world, q=world.word)  # the view has the world
    # The whole unique word: exact prefixes outrank the fuzzy matches of other runs' meals.
    r = query.get("/catalog/suggest", params={"prefix": world.word, "size": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {world.name(k) for k in ACTIVE} <= set(body["suggestions"])
    assert not any("Draft" in s or "Retired" in s for s in body["suggestions"])
    assert body["view"]["view"] == "catalog" and body["view"]["applied_lsn"]


def test_a_token_the_view_never_reaches_is_503_with_retry_after(stack: Settings, query: httpx.Client) -> None:
    started = time.monotonic()
    r = query.get("/catalog/meals", headers={"X-Consistency-Token": FAR_FUTURE})
    elapsed = time.monotonic() - started
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == PROBLEM
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["type"].endswith("/view-behind")
    assert stack.consistency_wait_s * 0.9 <= elapsed <= max(3.0, stack.consistency_wait_s + 1.0)


def test_a_token_the_view_has_is_served_without_waiting(query: httpx.Client, world: World) -> None:
    search(query, world, q=world.word)
    r = query.get("/catalog/meals", params={"q": world.word, "consistency_token": "0/1"})
    assert r.status_code == 200 and r.json()["view"]["waited_ms"] < 500


# --- orders ------------------------------------------------------------------------------------------


def _as(stack: Settings, token: str) -> httpx.Client:
    return query_client(stack, token)


def test_a_customer_sees_only_their_own_orders(stack: Settings, world: World) -> None:
    c1, c2 = world.customers
    with _as(stack, _customer_token(stack, c1["id"])) as cust:
        body = read(cust, "/orders", world.token, "orders")
        assert {o["order_id"] for o in body["items"]} == {
            world.orders["placed1"]["id"],
            world.orders["cancelled1"]["id"],
        }
        assert body["total"] == 2
        assert {o["customer"]["customer_id"] for o in body["items"]} == {c1["id"]}
        # asking for someone else's orders still shows only one's own
        body = read(cust, "/orders", world.token, "orders", customer_id=c2["id"])
        assert {o["customer"]["customer_id"] for o in body["items"]} == {c1["id"]}
        own = read(cust, f"/orders/{world.orders['placed1']['id']}", world.token, "orders")
        assert own["status"] == "placed" and own["item_count"] == 2
        assert own["lines"][0]["meal_name"] == world.name("A")
        read(cust, f"/orders/{world.orders['placed2']['id']}", world.token, "orders", 404)


def test_an_admin_sees_any_order(stack: Settings, admin_token: str, world: World) -> None:
    with _as(stack, admin_token) as admin:
        doc = read(admin, f"/orders/{world.orders['placed2']['id']}", world.token, "orders")
        assert doc["customer"]["customer_id"] == world.customers[1]["id"]
        assert doc["location"]["location_id"] == world.locs[2]["id"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"loc": 1}, {"placed1"}),
        ({"loc": 3}, {"cancelled1"}),
        ({"loc": 3, "status": "cancelled"}, {"cancelled1"}),
        ({"loc": 3, "status": "placed"}, set()),
        ({"loc": 2, "status": "placed"}, {"placed2"}),
        ({"customer": 1}, {"placed2"}),
        ({"customer": 0, "status": "cancelled"}, {"cancelled1"}),
    ],
)
def test_admin_order_filters(
    stack: Settings, admin_token: str, world: World, params: dict[str, Any], expected: set[str]
) -> None:
    query_params: dict[str, Any] = {"status": params["status"]} if "status" in params else {}
    if "loc" in params:
        query_params["location_id"] = world.locs[params["loc"]]["id"]
    if "customer" in params:
        query_params["customer_id"] = world.customers[params["customer"]]["id"]
    with _as(stack, admin_token) as admin:
        body = read(admin, "/orders", world.token, "orders", **query_params)
    assert {o["order_id"] for o in body["items"]} == {world.orders[k]["id"] for k in expected}
    assert body["total"] == len(expected)


def test_order_pages_visit_each_order_once(stack: Settings, world: World) -> None:
    with _as(stack, _customer_token(stack, world.customers[0]["id"])) as cust:
        first = read(cust, "/orders", world.token, "orders", size=1)
        assert first["next_cursor"] and first["total"] == 2
        second = read(cust, "/orders", world.token, "orders", size=1, cursor=first["next_cursor"])
        assert second["next_cursor"] is None
    ids = [o["order_id"] for o in first["items"] + second["items"]]
    assert sorted(ids) == sorted([world.orders["placed1"]["id"], world.orders["cancelled1"]["id"]])


# --- subscriptions -----------------------------------------------------------------------------------


def test_a_customer_sees_only_their_own_subscriptions(stack: Settings, world: World) -> None:
    c1, c2 = world.customers
    with _as(stack, _customer_token(stack, c2["id"])) as cust:
        body = read(cust, "/subscriptions", world.token, "subscriptions")
        assert [s["subscription_id"] for s in body["items"]] == [world.subs["paused2"]["id"]]
        assert body["total"] == 1 and body["items"][0]["status"] == "paused"
        body = read(cust, "/subscriptions", world.token, "subscriptions", customer_id=c1["id"])
        assert {s["customer"]["customer_id"] for s in body["items"]} == {c2["id"]}
        read(cust, f"/subscriptions/{world.subs['active1']['id']}", world.token, "subscriptions", 404)
        own = read(cust, f"/subscriptions/{world.subs['paused2']['id']}", world.token, "subscriptions")
        assert own["plan"]["plan_id"] == world.plan["id"] and own["paused_until"]


def test_an_admin_sees_any_subscription(stack: Settings, admin_token: str, world: World) -> None:
    with _as(stack, admin_token) as admin:
        doc = read(admin, f"/subscriptions/{world.subs['active1']['id']}", world.token, "subscriptions")
    assert doc["customer"]["customer_id"] == world.customers[0]["id"] and doc["status"] == "active"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"plan": True}, {"active1", "paused2"}),
        ({"plan": True, "status": "paused"}, {"paused2"}),
        ({"plan": True, "status": "cancelled"}, set()),
        ({"loc": 1}, {"active1"}),
        ({"loc": 2, "status": "paused"}, {"paused2"}),
        ({"loc": 2, "status": "active"}, set()),
        ({"customer": 0}, {"active1"}),
    ],
)
def test_admin_subscription_filters(
    stack: Settings, admin_token: str, world: World, params: dict[str, Any], expected: set[str]
) -> None:
    query_params: dict[str, Any] = {"status": params["status"]} if "status" in params else {}
    if "plan" in params:
        query_params["plan_id"] = world.plan["id"]
    if "loc" in params:
        query_params["location_id"] = world.locs[params["loc"]]["id"]
    if "customer" in params:
        query_params["customer_id"] = world.customers[params["customer"]]["id"]
    with _as(stack, admin_token) as admin:
        body = read(admin, "/subscriptions", world.token, "subscriptions", **query_params)
    assert {s["subscription_id"] for s in body["items"]} == {world.subs[k]["id"] for k in expected}
    assert body["total"] == len(expected)
