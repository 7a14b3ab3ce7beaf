"""The catalog endpoints write their bodies without pydantic (api/query/json_bodies.py): each body must be exactly
what its response model would give, so the OpenAPI document stays true."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.query.catalog_query import GeoPoint
from api.query.json_bodies import CATALOG_SOURCE, availability, catalog_meal
from api.query.models import Availability, CatalogMeal, MealAvailability


def _doc(locations: int) -> dict[str, Any]:
    return {
        "meal_id": str(uuid.uuid4()),
        "name": "Miso Salmon",
        "suggest": "Miso Salmon",
        "description": "Salmon, miso glaze",
        "ingredients": ["salmon", "miso"],
        "allergens": ["fish", "soy"],
        "dietary_tags": ["high_protein"],
        "calories": 520,
        "protein_g": 40,
        "carbs_g": 30,
        "fat_g": 20,
        "price_cents": 1390,
        "status": "active",
        "updated_at": "2026-11-25T12:00:00.123456+00:00",
        "available_now": locations > 0,
        "totals": {"locations": locations, "well_stocked": locations - 1 if locations else 0},
        "availability": [
            {
                "location_id": str(uuid.uuid4()),
                "code": f"SF-{i}",
                "name": f"Fridge {i}",
                "kind": "smart_fridge",
                "city": "Springfield",
                "geo": {"lat": 39.8 + i / 10, "lon": -89.6},
                "level": "low" if i == 0 else "available",
            }
            for i in range(locations)
        ],
        "location_ids": [],
        "cities": ["Springfield"],
        "points": [],
        "source_lsn": "0/1A2B3C",
        "indexed_at": "2026-11-25T12:00:01.5Z",
    }


def _fetched(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as a search with ``_source: CATALOG_SOURCE`` returns it: the listed fields, each location by
    its listed sub-fields, and no "availability" at all for a meal at no location (nothing under it matched)."""
    top = {f for f in CATALOG_SOURCE if "." not in f}
    sub = {f.split(".", 1)[1] for f in CATALOG_SOURCE if f.startswith("availability.")}
    fetched = {k: v for k, v in doc.items() if k in top}
    if doc["availability"]:
        fetched["availability"] = [{k: v for k, v in a.items() if k in sub} for a in doc["availability"]]
    return fetched


@pytest.mark.parametrize("locations", [0, 1, 3])
@pytest.mark.parametrize("near", [None, GeoPoint(40.0, -89.6)])
def test_catalog_meal_is_what_the_model_gives(locations: int, near: GeoPoint | None) -> None:
    body = catalog_meal(_fetched(_doc(locations)), near)
    assert CatalogMeal.model_validate(body).model_dump(mode="json").keys() == body.keys()
    roundtrip = CatalogMeal.model_validate(body).model_dump(mode="json")
    assert roundtrip["availability"] == body["availability"]
    assert {k: v for k, v in roundtrip.items() if k != "freshness"} == {
        k: v for k, v in body.items() if k != "freshness"
    }
    if near is not None and locations:
        assert body["distance_km"] == min(a["distance_km"] for a in body["availability"])
        assert [a["distance_km"] for a in body["availability"]] == sorted(
            a["distance_km"] for a in body["availability"]
        )


def test_meal_availability_is_what_the_model_gives() -> None:
    doc = _fetched(_doc(2))
    body = {"meal_id": doc["meal_id"], "name": doc["name"], "locations": availability(doc["availability"], None)}
    body["freshness"] = {"source_lsn": doc["source_lsn"], "indexed_at": doc["indexed_at"]}
    body["view"] = {"view": "catalog", "applied_lsn": None, "applied_at": None, "waited_ms": 0, "dead_letters": 0}
    dumped = MealAvailability.model_validate(body).model_dump(mode="json")
    assert dumped["locations"] == body["locations"]
    assert dumped["freshness"]["source_lsn"] == doc["source_lsn"]


def test_a_search_asks_only_for_the_fields_it_returns() -> None:
    """Each location of the availability by its fields: what comes back is exactly an Availability but its
    distance, so the body is built by adding the distance alone."""
    locations = {f"availability.{f}" for f in Availability.model_fields if f != "distance_km"}
    meal = set(CatalogMeal.model_fields) - {"distance_km", "freshness", "availability"}
    assert set(CATALOG_SOURCE) == meal | locations | {"source_lsn", "indexed_at"}
