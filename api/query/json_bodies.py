"""Response bodies of the hot catalog endpoints, built as plain dicts and written with orjson.

The route keeps its ``response_model`` for the OpenAPI document, and returns a ``Response``, so FastAPI neither
validates nor re-serializes it: these functions must give exactly what the model would (its fields, in its
shape, with its defaults). The field lists come from the models themselves, and a unit test holds each body
against ``Model.model_validate(body).model_dump(mode="json")``.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from api.query.catalog_query import GeoPoint, distances_from
from api.query.models import Availability, CatalogMeal

_MEAL_FIELDS = tuple(f for f in CatalogMeal.model_fields if f not in ("availability", "distance_km", "freshness"))
_AVAILABILITY_FIELDS = tuple(f for f in Availability.model_fields if f != "distance_km")
# What a catalog search needs from each document (the rest stays in Elasticsearch). Each location of a meal's
# availability is asked for by its fields, so what comes back is exactly an Availability but its distance.
CATALOG_SOURCE = [*_MEAL_FIELDS, *(f"availability.{f}" for f in _AVAILABILITY_FIELDS), "source_lsn", "indexed_at"]


_MEAL_DEFAULTS: dict[str, Any] = dict.fromkeys(_MEAL_FIELDS)


def availability(source: list[dict[str, Any]], near: GeoPoint | None) -> list[dict[str, Any]]:
    """The locations of a meal, as fetched with CATALOG_SOURCE and parsed for this response: each gets its
    distance in place (with ``near``: nearest first), so no location is copied."""
    if near is None:
        for a in source:
            a["distance_km"] = None
        return source
    distance = distances_from(near)
    for a in source:
        geo = a["geo"]
        a["distance_km"] = round(distance(geo["lat"], geo["lon"]), 3)
    source.sort(key=itemgetter("distance_km"))
    return source


def catalog_meal(source: dict[str, Any], near: GeoPoint | None) -> dict[str, Any]:
    """A CatalogMeal from a catalog document fetched with CATALOG_SOURCE and parsed for this response; with
    ``near``, locations nearest first and their distances."""
    # The defaults first: a field added by a newer mapping version is absent from documents of an index of an older
    # one (kept for a rollback, docs/changing-a-view.md); the model's default (None) is what it says then.
    meal = {**_MEAL_DEFAULTS, **source}
    freshness = {"source_lsn": meal.pop("source_lsn"), "indexed_at": meal.pop("indexed_at")}
    # A meal at no location: Elasticsearch returns no "availability" (only its sub-fields are asked for).
    items = availability(meal.pop("availability", []), near)
    meal["availability"] = items
    meal["distance_km"] = items[0]["distance_km"] if near is not None and items else None
    meal["freshness"] = freshness
    return meal
