from __future__ import annotations

from uuid import UUID

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException

from api.common.problems import PROBLEM_RESPONSES
from api.query.deps import Es
from api.query.models import Freshness, LocationInventory

router = APIRouter(prefix="/inventory", tags=["inventory"], responses=PROBLEM_RESPONSES)


@router.get(
    "/locations/{location_id}",
    response_model=LocationInventory,
    summary="A location with its stock per meal, from the inventory view",
)
async def get_location(location_id: UUID, es: Es) -> LocationInventory:
    try:
        hit = await es.get(index="inventory", id=str(location_id))
    except NotFoundError as exc:
        raise HTTPException(404, f"location {location_id} is not in the inventory view") from exc
    doc = dict(hit["_source"])
    freshness = Freshness(source_lsn=doc.pop("source_lsn"), indexed_at=doc.pop("indexed_at"))
    return LocationInventory(**doc, freshness=freshness)
