from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Query, Request

from api.common.problems import QUERY_RESPONSES
from api.query.catalog_query import CatalogSearch, CatalogSort, GeoPoint, build_search, distance_km, encode_cursor
from api.query.deps import Es, parse_near
from api.query.documents import split_freshness
from api.query.freshness import ConsistencyHeader, ConsistencyQuery, freshness, parse_token
from api.query.models import (
    CatalogMeal,
    CatalogMealDetail,
    CatalogPage,
    FacetBucket,
    Facets,
    MealAvailability,
    Suggestions,
)
from farmacy.vocabulary import Allergen, DietaryTag

router = APIRouter(tags=["catalog"], responses=QUERY_RESPONSES)
VIEW = "catalog"
NEAR = Query(description="lat,lon of the customer, e.g. 39.80,-89.64", max_length=60)


def meal_from_doc(source: dict[str, Any], near: GeoPoint | None) -> dict[str, Any]:
    doc, doc_freshness = split_freshness(source)
    if near is not None:
        for a in doc["availability"]:
            a["distance_km"] = round(distance_km(near, a["geo"]["lat"], a["geo"]["lon"]), 3)
        doc["availability"].sort(key=lambda a: a["distance_km"])
        doc["distance_km"] = doc["availability"][0]["distance_km"] if doc["availability"] else None
    return {**doc, "freshness": doc_freshness}


@router.get("/catalog/meals", response_model=CatalogPage, summary="Search the meal catalog")
async def search_meals(
    request: Request,
    es: Es,
    q: Annotated[
        str | None, Query(max_length=200, description="Full text over name, description, ingredients; typo-tolerant")
    ] = None,
    dietary_tags: Annotated[list[DietaryTag], Query(description="All of these")] = [],  # noqa: B006
    exclude_allergens: Annotated[list[Allergen], Query(description="None of these")] = [],  # noqa: B006
    price_min: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    price_max: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
    calories_min: Annotated[int | None, Query(ge=0, le=5000)] = None,
    calories_max: Annotated[int | None, Query(ge=0, le=5000)] = None,
    location_id: Annotated[UUID | None, Query(description="Available now at this location")] = None,
    near: Annotated[str | None, NEAR] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=500, description="With near: within this radius")] = None,
    available_now: Annotated[bool, Query(description="Only meals with units at an operational location")] = False,
    sort: CatalogSort = CatalogSort.RELEVANCE,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
    token_header: ConsistencyHeader = None,
    token_query: ConsistencyQuery = None,
) -> CatalogPage:
    token = parse_token(token_header, token_query)
    point = parse_near(near)
    search = CatalogSearch(
        q=q.strip() or None if q else None,
        dietary_tags=list(dietary_tags),
        exclude_allergens=list(exclude_allergens),
        price_min=price_min,
        price_max=price_max,
        calories_min=calories_min,
        calories_max=calories_max,
        location_id=str(location_id) if location_id else None,
        near=point,
        radius_km=radius_km,
        available_now=available_now,
        sort=sort,
        size=size,
        cursor=cursor,
    )
    body = build_search(search)  # refuses inconsistent parameters before any wait
    view = await freshness(request, VIEW, token)
    resp = await es.search(index=VIEW, body=body)
    hits = resp["hits"]["hits"]
    next_cursor = None
    if len(hits) > size:
        next_cursor = encode_cursor(hits[size - 1]["sort"])
    aggs = resp["aggregations"]
    facets = Facets(
        dietary_tags=[FacetBucket(value=b["key"], count=b["doc_count"]) for b in aggs["dietary_tags"]["buckets"]],
        cities=[FacetBucket(value=b["key"], count=b["doc_count"]) for b in aggs["cities"]["buckets"]],
        price_bands=[FacetBucket(value=b["key"], count=b["doc_count"]) for b in aggs["price_bands"]["buckets"]],
    )
    return CatalogPage(
        items=[CatalogMeal(**meal_from_doc(h["_source"], point)) for h in hits[:size]],
        total=resp["hits"]["total"]["value"],
        next_cursor=next_cursor,
        facets=facets,
        view=view,
    )


async def _get_meal(es: Es, meal_id: UUID) -> dict[str, Any]:
    try:
        hit = await es.get(index=VIEW, id=str(meal_id))
    except NotFoundError as exc:
        raise HTTPException(404, f"meal {meal_id} is not in the catalog (unknown, draft or retired)") from exc
    return dict(hit["_source"])


@router.get("/catalog/meals/{meal_id}", response_model=CatalogMealDetail, summary="One meal of the catalog")
async def get_meal(
    meal_id: UUID,
    request: Request,
    es: Es,
    near: Annotated[str | None, NEAR] = None,
    token_header: ConsistencyHeader = None,
    token_query: ConsistencyQuery = None,
) -> CatalogMealDetail:
    point, token = parse_near(near), parse_token(token_header, token_query)
    view = await freshness(request, VIEW, token)
    return CatalogMealDetail(**meal_from_doc(await _get_meal(es, meal_id), point), view=view)


@router.get("/catalog/suggest", response_model=Suggestions, summary="Meal names completing a prefix")
async def suggest(
    request: Request,
    es: Es,
    prefix: Annotated[
        str, Query(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$", description="No control characters")
    ],
    size: Annotated[int, Query(ge=1, le=20)] = 8,
    token_header: ConsistencyHeader = None,
    token_query: ConsistencyQuery = None,
) -> Suggestions:
    view = await freshness(request, VIEW, parse_token(token_header, token_query))
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
    resp = await es.search(index=VIEW, body=body, source=False)
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
    near: Annotated[str | None, NEAR] = None,
    token_header: ConsistencyHeader = None,
    token_query: ConsistencyQuery = None,
) -> MealAvailability:
    point, token = parse_near(near), parse_token(token_header, token_query)
    view = await freshness(request, VIEW, token)
    doc = meal_from_doc(await _get_meal(es, meal_id), point)
    locations = doc["availability"]
    if point is None:
        locations.sort(key=lambda a: (-a["quantity"], a["code"]))
    return MealAvailability(meal_id=doc["meal_id"], name=doc["name"], locations=locations, view=view)
