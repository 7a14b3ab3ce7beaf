from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.query.catalog_query import GeoPoint
from api.query.es_reads import Reads, reads
from farmacy.errors import InvalidInput


async def es_reads(request: Request) -> Reads:
    # async: FastAPI runs a plain function dependency in a worker thread, a thread hop on every request.
    return reads(request)


# The reads of the views (api/query/es_reads.py).
Es = Annotated[Reads, Depends(es_reads)]


def parse_near(near: str | None) -> GeoPoint | None:
    if near is None:
        return None
    try:
        lat_s, lon_s = near.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError as exc:
        raise InvalidInput("near must be 'lat,lon'", field="near", rule="lat,lon in degrees") from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("near is outside the globe", field="near", rule="lat in [-90, 90], lon in [-180, 180]")
    return GeoPoint(lat, lon)
