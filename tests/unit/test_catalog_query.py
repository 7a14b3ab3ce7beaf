"""api/query/catalog_query.py: the catalog search request builder. Pure, no services."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.query.catalog_query import (
    TEXT_FIELDS,
    CatalogSearch,
    CatalogSort,
    GeoPoint,
    build_search,
    decode_cursor,
    distance_km,
    encode_cursor,
)
from farmacy.errors import InvalidInput

TIEBREAK = {"meal_id": "asc"}
NEAR = GeoPoint(39.78, -89.65)
HOSTILE = [
    "name:(x OR y) AND *",
    '"unbalanced',
    "price_cents:[0 TO *]",
    "*:*",
    "a~10 b^999 /reg.*ex/",
    "(((",
    "\\ && || ! { } [ ] ^ ~ ? : /",
    "_exists_:name",
    '{"script": {"source": "1"}}',
]
MATCH_QUERIES = {"multi_match", "match_bool_prefix"}


class Bounds(TypedDict, total=False):
    """The numeric range fields of a catalog search."""

    price_min: int
    price_max: int
    calories_min: int
    calories_max: int
    spice_level_min: int
    spice_level_max: int


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yields (path, value) for every dict key (value = the key itself, path ends with '<key>') and leaf."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*path, "<key>"), key
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, (*path, f"[{i}]"))
    else:
        yield path, node


def keys(body: dict[str, Any]) -> set[str]:
    return {v for p, v in walk(body) if p and p[-1] == "<key>"}


def filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["query"]["bool"]["filter"])


def invalid(search: CatalogSearch) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        build_search(search)
    return info.value


# --- user text ---------------------------------------------------------------------------------------


SENTINEL = "\x1fuser-text-sentinel\x1f"


def substitute(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: substitute(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, old, new) for v in node]
    return new if node == old else node


def without_expansion(body: dict[str, Any]) -> dict[str, Any]:
    """The body less the clause of expanded words (stems, synonyms, tags), checked on its own below."""
    body = copy.deepcopy(body)
    text = body["query"]["bool"]["must"][0]
    if "bool" in text:
        text["bool"]["should"] = text["bool"]["should"][:2]
    return body


EXPANSION_KEYS = {
    "<key>",
    "bool",
    "must",
    "should",
    "minimum_should_match",
    "boost",
    "multi_match",
    "query",
    "fields",
    "type",
    "term",
    "dietary_tags",
    "value",
}


def assert_expansion_is_words_only(body: dict[str, Any]) -> None:
    """The expanded clause holds words of [a-z0-9] (no syntax can survive), tags and field names only."""
    should = body["query"]["bool"]["must"][0]["bool"]["should"]
    for clause in should[2:]:
        for path, value in walk(clause):
            assert set(path) <= EXPANSION_KEYS | {f"[{i}]" for i in range(100)}, path
            if isinstance(value, str) and path and path[-1] != "<key>":
                assert value in ("phrase", *TEXT_FIELDS) or re.fullmatch(r"[a-z0-9_ ]+", value), (path, value)


def test_the_text_slots_are_match_query_values() -> None:
    body = without_expansion(build_search(CatalogSearch(q=SENTINEL)))
    places = [path for path, value in walk(body) if value == SENTINEL]
    assert len(places) == 2
    for path in places:
        assert path[-1] == "query", path  # a value, never a key or a field name
        assert MATCH_QUERIES & set(path), f"user text outside multi_match/match_bool_prefix at {path}"
    assert not any(isinstance(v, str) and SENTINEL in v and v != SENTINEL for _, v in walk(body))


def assert_text_only_in_match_queries(q: str) -> None:
    body = build_search(CatalogSearch(q=q))
    assert "query_string" not in keys(body)
    assert "simple_query_string" not in keys(body)
    # The body does not depend on what the text says: it is the sentinel's body with the text in its slots,
    # so no syntax of the user's is interpreted or spliced anywhere else.
    assert without_expansion(body) == substitute(
        without_expansion(build_search(CatalogSearch(q=SENTINEL))), SENTINEL, q
    )
    assert_expansion_is_words_only(body)
    should = body["query"]["bool"]["must"][0]["bool"]["should"]
    assert should[0]["multi_match"]["query"] == q
    assert should[1]["match_bool_prefix"]["name"]["query"] == q


@pytest.mark.parametrize("q", ["green goddess", "quinoa", *HOSTILE])
def test_user_text_only_reaches_match_queries(q: str) -> None:
    assert_text_only_in_match_queries(q)


@settings(max_examples=150, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda s: s.strip()))
def test_arbitrary_text_never_becomes_query_syntax(q: str) -> None:
    assert_text_only_in_match_queries(q)


def test_text_is_fuzzy_and_the_last_word_a_prefix() -> None:
    mm = build_search(CatalogSearch(q="grean godess"))["query"]["bool"]["must"][0]["bool"]["should"][0]["multi_match"]
    assert mm["fuzziness"] == "AUTO"
    assert set(mm["fields"]) == {"name^3", "ingredients^2", "description"}


def test_no_text_matches_all() -> None:
    body = build_search(CatalogSearch())
    assert body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert body["query"]["bool"]["filter"] == []
    assert body["query"]["bool"]["must_not"] == []
    assert "search_after" not in body


# --- filters -----------------------------------------------------------------------------------------


def test_each_dietary_tag_is_its_own_term_filter_all_of() -> None:
    body = build_search(CatalogSearch(dietary_tags=["vegan", "gluten_free", "vegan"]))
    assert filters(body) == [{"term": {"dietary_tags": "vegan"}}, {"term": {"dietary_tags": "gluten_free"}}]
    assert "terms" not in json.dumps(filters(body))  # not any-of


def test_allergens_are_one_must_not_terms_none_of() -> None:
    body = build_search(CatalogSearch(exclude_allergens=["milk", "eggs", "milk"]))
    assert body["query"]["bool"]["must_not"] == [{"terms": {"allergens": ["milk", "eggs"]}}]
    assert filters(body) == []


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"price_min": 500}, {"range": {"price_cents": {"gte": 500}}}),
        ({"price_max": 1200}, {"range": {"price_cents": {"lte": 1200}}}),
        ({"price_min": 0, "price_max": 0}, {"range": {"price_cents": {"gte": 0, "lte": 0}}}),
        ({"price_min": 800, "price_max": 1200}, {"range": {"price_cents": {"gte": 800, "lte": 1200}}}),
        ({"calories_min": 300}, {"range": {"calories": {"gte": 300}}}),
        ({"calories_max": 0}, {"range": {"calories": {"lte": 0}}}),
        ({"calories_min": 300, "calories_max": 600}, {"range": {"calories": {"gte": 300, "lte": 600}}}),
        ({"spice_level_min": 3}, {"range": {"spice_level": {"gte": 3}}}),
        ({"spice_level_max": 0}, {"range": {"spice_level": {"lte": 0}}}),
        ({"spice_level_min": 1, "spice_level_max": 2}, {"range": {"spice_level": {"gte": 1, "lte": 2}}}),
    ],
)
def test_ranges_are_inclusive_and_only_name_given_bounds(kwargs: Bounds, expected: dict[str, Any]) -> None:
    assert filters(build_search(CatalogSearch(**kwargs))) == [expected]


@pytest.mark.parametrize(
    ("search", "fld"),
    [
        (CatalogSearch(price_min=11, price_max=10), "price"),
        (CatalogSearch(calories_min=11, calories_max=10), "calories"),
        (CatalogSearch(spice_level_min=4, spice_level_max=3), "spice_level"),
    ],
)
def test_min_above_max_is_invalid(search: CatalogSearch, fld: str) -> None:
    err = invalid(search)
    assert err.field == f"{fld}_min"


def test_location_filter() -> None:
    assert filters(build_search(CatalogSearch(location_id="L-1"))) == [{"term": {"location_ids": "L-1"}}]


def test_available_now_filter() -> None:
    assert filters(build_search(CatalogSearch(available_now=True))) == [{"term": {"available_now": True}}]
    assert filters(build_search(CatalogSearch(available_now=False))) == []


def test_geo_distance_filter_with_near_and_radius() -> None:
    body = build_search(CatalogSearch(near=NEAR, radius_km=5))
    assert filters(body) == [{"geo_distance": {"distance": "5km", "points": {"lat": 39.78, "lon": -89.65}}}]


def test_near_without_radius_does_not_filter() -> None:
    assert filters(build_search(CatalogSearch(near=NEAR))) == []


def test_radius_without_near_is_invalid() -> None:
    assert invalid(CatalogSearch(radius_km=5)).field == "radius_km"


def test_distance_sort_without_near_is_invalid() -> None:
    assert invalid(CatalogSearch(sort=CatalogSort.DISTANCE)).field == "sort"


def test_all_filters_combine() -> None:
    body = build_search(
        CatalogSearch(
            q="bowl",
            dietary_tags=["vegan"],
            exclude_allergens=["soy"],
            price_max=1000,
            location_id="L-1",
            near=NEAR,
            radius_km=2.5,
            available_now=True,
        )
    )
    kinds = [next(iter(f)) for f in filters(body)]
    assert kinds == ["term", "range", "term", "geo_distance", "term"]
    assert body["query"]["bool"]["must_not"] == [{"terms": {"allergens": ["soy"]}}]
    assert "multi_match" in keys(body)


# --- sort, size, cursor ------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", list(CatalogSort))
def test_every_sort_ends_with_the_meal_id_tiebreak(sort: CatalogSort) -> None:
    clauses = build_search(CatalogSearch(sort=sort, near=NEAR))["sort"]
    assert clauses[-1] == TIEBREAK
    assert len(clauses) == (3 if sort is CatalogSort.AVAILABILITY else 2)  # well stocked at most places, then most
    assert TIEBREAK not in clauses[:-1]


@pytest.mark.parametrize(
    ("sort", "first"),
    [
        (CatalogSort.RELEVANCE, {"_score": "desc"}),
        (CatalogSort.PRICE, {"price_cents": "asc"}),
        (CatalogSort.PRICE_DESC, {"price_cents": "desc"}),
        (CatalogSort.AVAILABILITY, {"totals.well_stocked": "desc"}),
    ],
)
def test_sort_clauses(sort: CatalogSort, first: dict[str, str]) -> None:
    assert build_search(CatalogSearch(sort=sort))["sort"][0] == first


def test_distance_sort_is_nearest_first_from_near() -> None:
    geo = build_search(CatalogSearch(sort=CatalogSort.DISTANCE, near=NEAR))["sort"][0]["_geo_distance"]
    assert geo["points"] == {"lat": 39.78, "lon": -89.65}
    assert geo["order"] == "asc" and geo["unit"] == "km" and geo["mode"] == "min"


@pytest.mark.parametrize("size", [1, 20, 100])
def test_one_more_hit_than_the_page_is_requested(size: int) -> None:
    body = build_search(CatalogSearch(size=size))
    assert body["size"] == size + 1
    assert body["track_total_hits"] is True


def test_facet_aggregations() -> None:
    aggs = build_search(CatalogSearch())["aggs"]
    assert aggs["dietary_tags"]["terms"]["field"] == "dietary_tags"
    assert aggs["cities"]["terms"]["field"] == "cities"
    assert aggs["price_bands"]["range"]["field"] == "price_cents"


TWO_KEY_SORT: list[dict[str, Any]] = [{"price_cents": "asc"}, {"meal_id": "asc"}]


@pytest.mark.parametrize(
    "values",
    [[1250, "0b7c4a55-59a8-4a4e-8b0f-3c3f1e2d4a10"], [3.25, "a"], [-1, "é ü 漢"], [1.0e-7, "z/+="]],
)
def test_cursor_round_trip(values: list[Any]) -> None:
    cursor = encode_cursor(values)
    assert decode_cursor(cursor, TWO_KEY_SORT) == values
    assert not set(cursor) & set("=+/ ")  # safe in a query string as is
    assert build_search(CatalogSearch(sort=CatalogSort.PRICE, cursor=cursor))["search_after"] == values


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-(2**63) + 1, 2**63 - 1), st.floats(-1e18, 1e18)),  # Elasticsearch sort values
        min_size=0,
        max_size=3,
    ),
    st.text(max_size=40),
)
def test_cursor_round_trip_property(keys: list[Any], tiebreak: str) -> None:
    values = [*keys, tiebreak]
    assert decode_cursor(encode_cursor(values), [{"k": "asc"}] * len(values)) == values


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!!",
        "not a cursor",
        "A",
        _b64(b"\xff\xfe\x00garbage"),
        _b64(b"{not json"),
        _b64(b'{"a": 1}'),
        _b64(b'"text"'),
        _b64(b"42"),
        _b64(b"null"),
        _b64(b"[]"),
        _b64(b'[null, "x"]'),
        _b64(b'[{"a": 1}, "x"]'),
        _b64(b'[[1], "x"]'),
    ],
)
def test_tampered_cursor_is_invalid_input_naming_cursor(cursor: str) -> None:
    with pytest.raises(InvalidInput) as info:
        decode_cursor(cursor, TWO_KEY_SORT)
    assert info.value.field == "cursor"
    assert invalid(CatalogSearch(cursor=cursor)).field == "cursor"


def test_tampered_real_cursor_is_invalid() -> None:
    cursor = encode_cursor([1250, "0b7c4a55-59a8-4a4e-8b0f-3c3f1e2d4a10"])
    assert invalid(CatalogSearch(sort=CatalogSort.PRICE, cursor=cursor[:-7] + "!!!!!!!")).field == "cursor"


@pytest.mark.parametrize("values", [["x"], [1, "a", 2], ["cheap", "0b7c4a55"], [True, "0b7c4a55"]])
def test_cursor_that_does_not_fit_the_sort_is_invalid(values: list[Any]) -> None:
    assert invalid(CatalogSearch(sort=CatalogSort.PRICE, cursor=encode_cursor(values))).field == "cursor"


# --- distance ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "lat", "lon", "km", "tolerance"),
    [
        (GeoPoint(10, 10), 10, 10, 0.0, 1e-9),
        (GeoPoint(0, 0), 1, 0, 111.195, 0.01),  # one degree of latitude
        (GeoPoint(0, 0), 0, 1, 111.195, 0.01),  # one degree of longitude at the equator
        (GeoPoint(60, 0), 60, 1, 55.60, 0.05),  # ... half as long at 60 degrees
        (GeoPoint(0, 0), 0, 180, 20015.1, 0.1),  # half the equator
        (GeoPoint(90, 0), -90, 0, 20015.1, 0.1),  # pole to pole
        (GeoPoint(48.8566, 2.3522), 51.5074, -0.1278, 343.5, 1.0),  # Paris - London
        (GeoPoint(0, 179.5), 0, -179.5, 111.195, 0.01),  # across the antimeridian
    ],
)
def test_distance_km_haversine(a: GeoPoint, lat: float, lon: float, km: float, tolerance: float) -> None:
    assert distance_km(a, lat, lon) == pytest.approx(km, abs=tolerance)
    assert distance_km(GeoPoint(lat, lon), a.lat, a.lon) == pytest.approx(distance_km(a, lat, lon))


@settings(max_examples=100, deadline=None)
@given(st.floats(-90, 90), st.floats(-180, 180), st.floats(-90, 90), st.floats(-180, 180))
def test_distance_km_is_symmetric_and_bounded(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    d = distance_km(GeoPoint(lat1, lon1), lat2, lon2)
    assert 0 <= d <= 20015.12
    assert d == pytest.approx(distance_km(GeoPoint(lat2, lon2), lat1, lon1), abs=1e-6)
