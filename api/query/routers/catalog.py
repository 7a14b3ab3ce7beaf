from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import Field

from api.common.json_response import JsonBody
from api.common.problems import QUERY_RESPONSES
from api.query.catalog_query import CatalogSearch, CatalogSort, build_search, encode_cursor
from api.query.deps import Es, parse_near
from api.query.es_reads import reads
from api.query.freshness import ConsistencyToken, PresentedToken, freshness, freshness_body
from api.query.json_bodies import CATALOG_SOURCE, availability, catalog_meal
from api.query.models import CatalogMealDetail, CatalogPage, MealAvailability, Suggestions
from api.query.params import QueryModel, documented
from farmacy import consistency
from farmacy.vocabulary import SPICE_LEVEL_MAX, Allergen, DietaryTag, StockLevel

router = APIRouter(tags=["catalog"], responses=QUERY_RESPONSES)
VIEW = "catalog"
NEAR_DESCRIPTION = "lat,lon of the customer, e.g. 39.80,-89.64"
NEAR = Query(description=NEAR_DESCRIPTION, max_length=60)


class CatalogParams(QueryModel):
    q: str | None = Field(
        None, max_length=200, description="Full text over name, description, ingredients; typo-tolerant"
    )
    dietary_tags: tuple[DietaryTag, ...] = Field((), description="All of these")
    exclude_allergens: tuple[Allergen, ...] = Field((), description="None of these")
    price_min: int | None = Field(None, ge=0, le=1_000_000)
    price_max: int | None = Field(None, ge=0, le=1_000_000)
    calories_min: int | None = Field(None, ge=0, le=5000)
    calories_max: int | None = Field(None, ge=0, le=5000)
    spice_level_min: int | None = Field(
        None, ge=0, le=SPICE_LEVEL_MAX, description="At least this spicy (meals not rated are left out)"
    )
    spice_level_max: int | None = Field(
        None, ge=0, le=SPICE_LEVEL_MAX, description="At most this spicy (meals not rated are left out)"
    )
    location_id: UUID | None = Field(None, description="Available now at this location")
    near: str | None = Field(None, max_length=60, description=NEAR_DESCRIPTION)
    radius_km: float | None = Field(None, gt=0, le=500, description="With near: within this radius")
    available_now: bool = Field(False, description="Only meals with units at an operational location")
    sort: CatalogSort = Field(
        CatalogSort.RELEVANCE,
        description="relevance (default), price, price_desc, distance (needs near), or availability: at the most "
        "locations where it is well stocked (not low), then at the most locations",
    )
    size: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=1000)
    consistency_token: str | None = Field(None, pattern=consistency.PATTERN)


@router.get(
    "/catalog/meals",
    response_model=CatalogPage,
    summary="Search the meal catalog",
    openapi_extra=documented(CatalogParams),
)
async def search_meals(request: Request) -> Response:
    """The busiest route of the API: its parameters are one model validated in one call (api/query/params.py),
    and the search goes to Elasticsearch's nodes directly (api/query/es_reads.py)."""
    p = CatalogParams.of(request)
    lsn = PresentedToken(request.headers.get(consistency.HEADER), p.consistency_token).lsn()
    point = parse_near(p.near)
    search = CatalogSearch(
        q=p.q.strip() or None if p.q else None,
        dietary_tags=list(p.dietary_tags),
        exclude_allergens=list(p.exclude_allergens),
        price_min=p.price_min,
        price_max=p.price_max,
        calories_min=p.calories_min,
        calories_max=p.calories_max,
        spice_level_min=p.spice_level_min,
        spice_level_max=p.spice_level_max,
        location_id=str(p.location_id) if p.location_id else None,
        near=point,
        radius_km=p.radius_km,
        available_now=p.available_now,
        sort=p.sort,
        size=p.size,
        cursor=p.cursor,
    )
    body = build_search(search, source=CATALOG_SOURCE)  # refuses inconsistent parameters before any wait
    view = await freshness_body(request, VIEW, lsn)
    resp = await reads(request).search(VIEW, body)
    hits = resp["hits"]["hits"]
    aggs = resp["aggregations"]
    size = p.size
    return JsonBody(
        {
            "items": [catalog_meal(h["_source"], point) for h in hits[:size]],
            "total": resp["hits"]["total"]["value"],
            "next_cursor": encode_cursor(hits[size - 1]["sort"]) if len(hits) > size else None,
            "facets": {name: _buckets(aggs[name]) for name in ("dietary_tags", "cities", "price_bands")},
            "view": view,
        }
    )


def _buckets(agg: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"value": b["key"], "count": b["doc_count"]} for b in agg["buckets"]]


async def _get_meal(es: Es, meal_id: UUID) -> dict[str, Any]:
    try:
        # Not realtime: a realtime GET of a document changed since the last refresh refreshes the shard, a cost per
        # read. A token read is still never stale: a view publishes a position only after a refresh covering it.
        hit = await es.get(VIEW, str(meal_id), source=CATALOG_SOURCE)
    except NotFoundError as exc:
        raise HTTPException(404, f"meal {meal_id} is not in the catalog (unknown, draft or retired)") from exc
    return dict(hit["_source"])


@router.get("/catalog/meals/{meal_id}", response_model=CatalogMealDetail, summary="One meal of the catalog")
async def get_meal(
    meal_id: UUID,
    request: Request,
    es: Es,
    token: ConsistencyToken,
    near: Annotated[str | None, NEAR] = None,
) -> Response:
    point, lsn = parse_near(near), token.lsn()
    view = await freshness(request, VIEW, lsn)
    return JsonBody({**catalog_meal(await _get_meal(es, meal_id), point), "view": view.model_dump(mode="json")})


@router.get("/catalog/suggest", response_model=Suggestions, summary="Meal names completing a prefix")
async def suggest(
    request: Request,
    es: Es,
    token: ConsistencyToken,
    prefix: Annotated[
        str, Query(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$", description="No control characters")
    ],
    size: Annotated[int, Query(ge=1, le=20)] = 8,
) -> Suggestions:
    view = await freshness(request, VIEW, token.lsn())
    body = {
        "suggest": {
            "meals": {
                "prefix": prefix,
                "completion": {
                    "field": "suggest",
                    "size": size,
                    "skip_duplicates": True,
                    "fuzzy": {"fuzziness": "AUTO"},
                },
            }
        }
    }
    resp = await es.search(VIEW, {**body, "_source": False})
    options = resp["suggest"]["meals"][0]["options"]
    return Suggestions(suggestions=[o["text"] for o in options], view=view)


@router.get(
    "/inventory/meals/{meal_id}/availability",
    response_model=MealAvailability,
    tags=["inventory"],
    summary="Where to get a meal right now, nearest first",
)
async def meal_availability(
    meal_id: UUID,
    request: Request,
    es: Es,
    token: ConsistencyToken,
    near: Annotated[str | None, NEAR] = None,
) -> Response:
    point, lsn = parse_near(near), token.lsn()
    view = await freshness(request, VIEW, lsn)
    doc = await _get_meal(es, meal_id)
    locations = availability(doc.get("availability", []), point)
    if point is None:
        locations.sort(key=lambda a: (a["level"] != StockLevel.AVAILABLE, a["code"]))  # well stocked first
    return JsonBody(
        {
            "meal_id": doc["meal_id"],
            "name": doc["name"],
            "locations": locations,
            "freshness": {"source_lsn": doc["source_lsn"], "indexed_at": doc["indexed_at"]},
            "view": view.model_dump(mode="json"),
        }
    )
