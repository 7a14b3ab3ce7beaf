from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.common.deps import require
from api.common.problems import PROBLEM_RESPONSES, QUERY_RESPONSES
from api.query.catalog_query import distance_km
from api.query.deps import Es, parse_near
from api.query.documents import split_freshness
from api.query.freshness import ConsistencyToken, freshness
from api.query.models import LocationInventory, LocationList, LocationSummary
from farmacy.auth import Role
from farmacy.errors import InvalidInput
from farmacy.vocabulary import LocationKind

# Stock details (on hand, reserved, low stock, draft meals on a shelf) are for the people who run the fridges:
# admins and operators. Customers see availability through the catalog and GET /inventory/meals/{id}/availability
# (api/query/routers/catalog.py), which need no token.
router = APIRouter(
    prefix="/inventory",
    tags=["inventory"],
    responses={**QUERY_RESPONSES, 403: PROBLEM_RESPONSES[403]},
    dependencies=[Depends(require(Role.ADMIN, Role.OPERATOR))],
)
VIEW = "inventory"
MAX_LINES = 9_999  # stock lines of one location in one answer (Elasticsearch's default result window is 10,000)
LOW_STOCK_NAMES = 20  # meal names low on stock listed per location in a list of locations


# A location's unit totals are its lines' sums, taken when read: the view's location document counts its lines and
# those low on stock, and a sale that moves neither does not rewrite it (sinks/views/inventory).
LINES = {"term": {"doc_type": "stock"}}
UNIT_SUMS = {"on_hand": {"sum": {"field": "on_hand"}}, "reserved": {"sum": {"field": "reserved"}}}


def _with_units(totals: dict[str, Any], sums: dict[str, Any] | None) -> dict[str, Any]:
    on_hand = int(sums["on_hand"]["value"]) if sums else 0
    reserved = int(sums["reserved"]["value"]) if sums else 0
    return {**totals, "on_hand": on_hand, "reserved": reserved, "available": on_hand - reserved}


async def _units_by_location(es: Es, location_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The unit sums of these locations' lines, by location id (a location without lines is left out)."""
    if not location_ids:
        return {}
    body = {
        "size": 0,
        "query": {"bool": {"filter": [LINES, {"terms": {"location_id": location_ids}}]}},
        "aggs": {"locations": {"terms": {"field": "location_id", "size": len(location_ids)}, "aggs": UNIT_SUMS}},
    }
    resp = await es.search(index=VIEW, body=body)
    return {b["key"]: b for b in resp["aggregations"]["locations"]["buckets"]}


@router.get(
    "/locations/{location_id}",
    response_model=LocationInventory,
    summary="A location with its stock per meal (what is in this fridge now); admins and operators",
)
async def get_location(
    location_id: UUID,
    request: Request,
    es: Es,
    token: ConsistencyToken,
) -> LocationInventory:
    view = await freshness(request, VIEW, token.lsn())
    # One search: the location's document and its stock lines (sinks/views/inventory: one document per line).
    body = {
        "query": {"bool": {"filter": [{"term": {"location_id": str(location_id)}}]}},
        "sort": [{"doc_type": "asc"}, {"meal_name.raw": "asc"}, {"meal_id": "asc"}],
        "size": MAX_LINES + 1,
        "aggs": {"units": {"filter": LINES, "aggs": UNIT_SUMS}},
    }
    resp = await es.search(index=VIEW, body=body)
    hits = [h["_source"] for h in resp["hits"]["hits"]]
    if not hits or hits[0].get("doc_type") != "location":
        raise HTTPException(404, f"location {location_id} is not in the inventory view")
    doc, doc_freshness = split_freshness(hits[0])
    doc["totals"] = _with_units(doc["totals"], resp["aggregations"]["units"])
    lines = [split_freshness(h)[0] for h in hits[1:]]
    doc["stock"] = lines
    doc["low_stock_meals"] = [s["meal_name"] for s in lines if s["low_stock"]]
    return LocationInventory(**doc, freshness=doc_freshness, view=view)


@router.get(
    "/locations",
    response_model=LocationList,
    summary="Locations by place and status (where to restock: low_stock=true); admins and operators",
)
async def list_locations(
    request: Request,
    es: Es,
    token: ConsistencyToken,
    near: Annotated[str | None, Query(max_length=60, description="lat,lon; sorts nearest first")] = None,
    radius_km: Annotated[float | None, Query(gt=0, le=500)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    kind: LocationKind | None = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
    low_stock: Annotated[bool, Query(description="Only locations with at least one meal low on stock")] = False,
    size: Annotated[int, Query(ge=1, le=100)] = 50,
) -> LocationList:
    point, lsn = parse_near(near), token.lsn()
    if radius_km is not None and point is None:
        raise InvalidInput("radius_km needs near=lat,lon", field="radius_km", rule="needs near")
    view = await freshness(request, VIEW, lsn)
    filters: list[dict[str, Any]] = []
    if status:
        filters.append({"term": {"status": status}})
    if kind:
        filters.append({"term": {"kind": kind.value}})
    if city:
        filters.append({"term": {"city": city}})
    if point is not None and radius_km is not None:
        filters.append({"geo_distance": {"distance": f"{radius_km}km", "geo": {"lat": point.lat, "lon": point.lon}}})
    filters.append({"term": {"doc_type": "location"}})
    if low_stock:
        filters.append({"range": {"totals.low_stock_meals": {"gt": 0}}})
    query: dict[str, Any] = {"bool": {"filter": filters}}
    sort: list[dict[str, Any]] = (
        [{"_geo_distance": {"geo": {"lat": point.lat, "lon": point.lon}, "order": "asc", "unit": "km"}}]
        if point is not None
        else [{"code": "asc"}]
    )
    body = {"query": query, "sort": sort, "size": size}
    resp = await es.search(index=VIEW, body=body)
    hits = resp["hits"]["hits"]
    units = await _units_by_location(es, [h["_source"]["location_id"] for h in hits])
    items = []
    for hit in hits:
        doc, _ = split_freshness(hit["_source"])
        doc["totals"] = _with_units(doc["totals"], units.get(doc["location_id"]))
        doc["low_stock_meals"] = doc.pop("low_stock_meal_names")[:LOW_STOCK_NAMES]
        if point is not None:
            doc["distance_km"] = round(distance_km(point, doc["geo"]["lat"], doc["geo"]["lon"]), 3)
        items.append(LocationSummary(**doc))
    return LocationList(items=items, view=view)
