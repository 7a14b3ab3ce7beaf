"""Builds the Elasticsearch request of a catalog search. Pure: request model in, query body out.

User text only ever reaches Elasticsearch inside match-type queries (multi_match, match_bool_prefix),
never query_string, so no query syntax of the user's is interpreted.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from api.query.text_expansion import groups, inflections
from farmacy.errors import InvalidInput

PRICE_BANDS = [
    {"key": "under_8", "to": 800},
    {"key": "8_to_12", "from": 800, "to": 1200},
    {"key": "12_to_16", "from": 1200, "to": 1600},
    {"key": "16_plus", "from": 1600},
]
TEXT_FIELDS = ["name^3", "ingredients^2", "description"]


class CatalogSort(StrEnum):
    RELEVANCE = "relevance"
    PRICE = "price"
    PRICE_DESC = "price_desc"
    DISTANCE = "distance"
    AVAILABILITY = "availability"


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass
class CatalogSearch:
    q: str | None = None
    dietary_tags: list[str] = field(default_factory=list)  # all of
    exclude_allergens: list[str] = field(default_factory=list)  # none of
    price_min: int | None = None
    price_max: int | None = None
    calories_min: int | None = None
    calories_max: int | None = None
    spice_level_min: int | None = None
    spice_level_max: int | None = None
    location_id: str | None = None
    near: GeoPoint | None = None
    radius_km: float | None = None
    available_now: bool = False
    sort: CatalogSort = CatalogSort.RELEVANCE
    size: int = 20
    cursor: str | None = None


def encode_cursor(sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(sort_values)).decode().rstrip("=")


def decode_cursor(cursor: str, sort: list[dict[str, Any]]) -> list[Any]:
    """The sort values of the last hit of the previous page. Every sort of this API is numeric keys followed by
    an id tiebreak (a string); anything else did not come from next_cursor."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_cursor() from exc
    if (
        not isinstance(values, list)
        or len(values) != len(sort)
        or not isinstance(values[-1], str)
        or not all(_sort_number(v, "_geo_distance" in c) for v, c in zip(values[:-1], sort[:-1], strict=True))
    ):
        raise _bad_cursor()
    return values


def _sort_number(value: Any, distance: bool) -> bool:
    # A distance sort gives a meal without any location the value Infinity, which JSON spells as a string.
    if distance and value in ("Infinity", "-Infinity"):
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < 2**63


def _bad_cursor() -> InvalidInput:
    return InvalidInput("cursor is not one this API issued", field="cursor", rule="must come from next_cursor")


def _text_query(q: str) -> dict[str, Any]:
    should: list[dict[str, Any]] = [
        {
            "multi_match": {
                "query": q,
                "fields": TEXT_FIELDS,
                "type": "best_fields",
                "fuzziness": "AUTO",
                "prefix_length": 1,
                "minimum_should_match": "2<75%",
            }
        },
        # Typing in progress: the last word may be a prefix ("green godd").
        {"match_bool_prefix": {"name": {"query": q, "operator": "and", "boost": 2}}},
    ]
    expanded = _expanded(q)
    if expanded is not None:
        should.append(expanded)
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _expanded(q: str) -> dict[str, Any] | None:
    """Every word or phrase of the query, in any of its inflections, synonyms or dietary tags (text_expansion)."""
    must: list[dict[str, Any]] = []
    for group in groups(q):
        alternatives: list[dict[str, Any]] = []
        single = [f for f in group.forms if " " not in f]
        for phrase in (*group.phrases, *(f for f in group.forms if " " in f)):
            if " " in phrase:
                alternatives.append({"multi_match": {"query": phrase, "fields": TEXT_FIELDS, "type": "phrase"}})
            else:
                single += inflections(phrase)
        if single:
            alternatives.append({"multi_match": {"query": " ".join(dict.fromkeys(single)), "fields": TEXT_FIELDS}})
        alternatives += [{"term": {"dietary_tags": {"value": tag, "boost": 2}}} for tag in group.tags]
        must.append({"bool": {"should": alternatives, "minimum_should_match": 1}})
    if not must:
        return None
    return {"bool": {"must": must, "boost": 2}}


def build_search(s: CatalogSearch, source: list[str] | None = None) -> dict[str, Any]:
    """The search body; ``source`` limits the fields each hit returns."""
    if s.sort is CatalogSort.DISTANCE and s.near is None:
        raise InvalidInput("sorting by distance needs near=lat,lon", field="sort", rule="distance needs near")
    if s.radius_km is not None and s.near is None:
        raise InvalidInput("radius_km needs near=lat,lon", field="radius_km", rule="needs near")
    bounds = (
        ("price_cents", s.price_min, s.price_max, "price"),
        ("calories", s.calories_min, s.calories_max, "calories"),
        ("spice_level", s.spice_level_min, s.spice_level_max, "spice_level"),
    )
    for _, low, high, name in bounds:
        if low is not None and high is not None and low > high:
            raise InvalidInput(f"{name}_min is above {name}_max", field=f"{name}_min", rule=f"<= {name}_max")
    must = [_text_query(s.q)] if s.q else []
    filters: list[dict[str, Any]] = [{"term": {"dietary_tags": tag}} for tag in dict.fromkeys(s.dietary_tags)]
    for fld, low, high, _ in bounds:
        if low is not None or high is not None:
            filters.append({"range": {fld: {k: v for k, v in (("gte", low), ("lte", high)) if v is not None}}})
    if s.location_id:
        filters.append({"term": {"location_ids": s.location_id}})
    if s.near is not None and s.radius_km is not None:
        filters.append(
            {"geo_distance": {"distance": f"{s.radius_km}km", "points": {"lat": s.near.lat, "lon": s.near.lon}}}
        )
    if s.available_now:
        filters.append({"term": {"available_now": True}})
    must_not = [{"terms": {"allergens": list(dict.fromkeys(s.exclude_allergens))}}] if s.exclude_allergens else []
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters, "must_not": must_not}},
        "sort": _sort(s),
        "size": s.size + 1,  # one more than asked tells whether there is a next page
        "track_total_hits": True,
        "aggs": {
            "dietary_tags": {"terms": {"field": "dietary_tags", "size": 20}},
            "cities": {"terms": {"field": "cities", "size": 50}},
            "price_bands": {"range": {"field": "price_cents", "keyed": False, "ranges": PRICE_BANDS}},
        },
    }
    if s.cursor:
        body["search_after"] = decode_cursor(s.cursor, body["sort"])
    if source is not None:
        body["_source"] = {"includes": source}
    return body


def _sort(s: CatalogSearch) -> list[dict[str, Any]]:
    tiebreak = {"meal_id": "asc"}
    if s.sort is CatalogSort.PRICE:
        return [{"price_cents": "asc"}, tiebreak]
    if s.sort is CatalogSort.PRICE_DESC:
        return [{"price_cents": "desc"}, tiebreak]
    if s.sort is CatalogSort.AVAILABILITY:
        return [{"totals.well_stocked": "desc"}, {"totals.locations": "desc"}, tiebreak]
    if s.sort is CatalogSort.DISTANCE:
        assert s.near is not None
        return [
            {
                "_geo_distance": {
                    "points": {"lat": s.near.lat, "lon": s.near.lon},
                    "order": "asc",
                    "unit": "km",
                    "mode": "min",
                }
            },
            tiebreak,
        ]
    return [{"_score": "desc"}, tiebreak]


def distance_km(a: GeoPoint, lat: float, lon: float) -> float:
    """Great-circle distance (haversine), in kilometres."""
    return distances_from(a)(lat, lon)


def distances_from(a: GeoPoint) -> Callable[[float, float], float]:
    """``distance_km`` from ``a`` to each point it is called with (what depends on ``a`` alone computed once)."""
    p1 = math.radians(a.lat)
    cos_p1, lon1 = math.cos(p1), a.lon
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt

    def distance(lat: float, lon: float) -> float:
        p2 = radians(lat)
        h = sin((p2 - p1) / 2) ** 2 + cos_p1 * cos(p2) * sin(radians(lon - lon1) / 2) ** 2
        return 2 * 6371.0088 * asin(min(1.0, sqrt(h)))

    return distance
