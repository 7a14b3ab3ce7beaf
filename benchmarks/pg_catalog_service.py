"""The baseline the CQRS read side is measured against: the catalog search written on the normalized master
schema, as a service without views would serve it (one SQL statement per request: filters, availability at
operational locations, distance, full text with PostgreSQL's english configuration, facets, one page).

Served like the query API (same server, same worker count), on its own port:

    .venv/bin/python -m benchmarks.pg_catalog_service --port 8190 --workers 2

It answers GET /catalog/meals with the query API's parameters; only benchmarks use it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import orjson
import uvicorn
from fastapi import FastAPI, Query, Request, Response
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from farmacy.settings import Settings

SEARCH_SQL = """
WITH located AS (
    SELECT m.id, m.name, m.description, m.ingredients, m.allergens, m.dietary_tags, m.calories, m.price_cents,
           a.items, coalesce(a.quantity, 0) AS quantity, coalesce(a.locations, 0) AS locations, a.cities,
           a.min_km,
           CASE WHEN %(q)s::text IS NULL THEN 0 ELSE ts_rank(
               setweight(to_tsvector('english', m.name), 'A')
               || setweight(to_tsvector('english', array_to_string(m.ingredients, ' ')), 'B')
               || to_tsvector('english', m.description), plainto_tsquery('english', %(q)s)) END AS score
    FROM catalog.meals m
    LEFT JOIN LATERAL (
        SELECT jsonb_agg(jsonb_build_object('location_id', l.id, 'code', l.code, 'name', l.name, 'kind', l.kind,
                                            'city', l.city, 'quantity', s.on_hand - s.reserved,
                                            'geo', jsonb_build_object('lat', l.latitude, 'lon', l.longitude))
                         ORDER BY l.code) AS items,
               sum(s.on_hand - s.reserved) AS quantity, count(*) AS locations,
               array_agg(DISTINCT l.city) AS cities,
               min(CASE WHEN %(lat)s::float8 IS NULL THEN NULL ELSE 2 * 6371.0088 * asin(sqrt(
                   sin(radians(l.latitude - %(lat)s) / 2) ^ 2 + cos(radians(%(lat)s)) * cos(radians(l.latitude))
                   * sin(radians(l.longitude - %(lon)s) / 2) ^ 2)) END) AS min_km,
               bool_or(l.id = %(location_id)s::uuid) AS at_location
        FROM inventory.stock s JOIN inventory.locations l ON l.id = s.location_id
        WHERE s.meal_id = m.id AND l.status IN ('online', 'open') AND s.on_hand - s.reserved > 0
    ) a ON true
    WHERE m.status = 'active'
      AND (%(q)s::text IS NULL OR (
           setweight(to_tsvector('english', m.name), 'A')
           || setweight(to_tsvector('english', array_to_string(m.ingredients, ' ')), 'B')
           || to_tsvector('english', m.description)) @@ plainto_tsquery('english', %(q)s))
      AND m.dietary_tags @> %(tags)s::text[]
      AND NOT m.allergens && %(allergens)s::text[]
      AND (%(price_min)s::int IS NULL OR m.price_cents >= %(price_min)s)
      AND (%(price_max)s::int IS NULL OR m.price_cents <= %(price_max)s)
      AND (%(location_id)s::uuid IS NULL OR a.at_location)
      AND (%(radius_km)s::float8 IS NULL OR a.min_km <= %(radius_km)s)
      AND (NOT %(available_now)s OR coalesce(a.quantity, 0) > 0)
), page AS (
    SELECT * FROM located
    ORDER BY CASE %(sort)s WHEN 'price' THEN price_cents WHEN 'price_desc' THEN -price_cents
                           WHEN 'availability' THEN -quantity ELSE 0 END,
             CASE WHEN %(sort)s = 'distance' THEN coalesce(min_km, 'Infinity') ELSE 0 END,
             CASE WHEN %(sort)s = 'relevance' THEN -score ELSE 0 END, id
    LIMIT %(size)s + 1
)
SELECT (SELECT count(*) FROM located) AS total,
       (SELECT coalesce(jsonb_agg(to_jsonb(page) - 'score'), '[]') FROM page) AS items,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('value', t, 'count', n)), '[]')
          FROM (SELECT t, count(*) n FROM located, unnest(dietary_tags) t GROUP BY t ORDER BY n DESC LIMIT 20) x)
         AS dietary_tags,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('value', c, 'count', n)), '[]')
          FROM (SELECT c, count(*) n FROM located, unnest(cities) c GROUP BY c ORDER BY n DESC LIMIT 50) y) AS cities,
       (SELECT jsonb_build_array(count(*) FILTER (WHERE price_cents < 800),
                                 count(*) FILTER (WHERE price_cents >= 800 AND price_cents < 1200),
                                 count(*) FILTER (WHERE price_cents >= 1200 AND price_cents < 1600),
                                 count(*) FILTER (WHERE price_cents >= 1600)) FROM located) AS price_bands
"""


# benchmarks.api_throughput waits until no session of this name is busy before it measures the next target.
APPLICATION_NAME = "farmacy-pg-baseline"


def create_app(settings: Settings) -> FastAPI:
    pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
        settings.pg_dsn,
        min_size=2,
        max_size=8,
        open=False,
        # Like the load tool's timeout: a search past it is abandoned, not left running into the next measurement.
        kwargs={
            "row_factory": dict_row,
            "autocommit": True,
            "options": "-c statement_timeout=10000",
            "application_name": APPLICATION_NAME,
        },
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/catalog/meals")
    async def search(
        request: Request,
        q: str | None = None,
        dietary_tags: Annotated[list[str], Query()] = [],  # noqa: B006
        exclude_allergens: Annotated[list[str], Query()] = [],  # noqa: B006
        price_min: int | None = None,
        price_max: int | None = None,
        location_id: str | None = None,
        near: str | None = None,
        radius_km: float | None = None,
        available_now: bool = False,
        sort: str = "relevance",
        size: int = 20,
    ) -> Response:
        lat, lon = (float(x) for x in near.split(",")) if near else (None, None)
        params: dict[str, Any] = {
            "q": q,
            "tags": dietary_tags,
            "allergens": exclude_allergens,
            "price_min": price_min,
            "price_max": price_max,
            "location_id": location_id,
            "lat": lat,
            "lon": lon,
            "radius_km": radius_km,
            "available_now": available_now,
            "sort": sort,
            "size": size,
        }
        async with pool.connection() as conn:
            cur = await conn.execute(SEARCH_SQL, params)
            row = await cur.fetchone()
        assert row is not None
        items = row["items"][:size]
        body = {
            "items": items,
            "total": row["total"],
            "next_cursor": None if len(row["items"]) <= size else "more",
            "facets": {"dietary_tags": row["dietary_tags"], "cities": row["cities"], "price_bands": row["price_bands"]},
        }
        return Response(orjson.dumps(body), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    uvicorn.run(
        "benchmarks.pg_catalog_service:app_from_env",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        timeout_worker_healthcheck=60,
    )


def app_from_env() -> FastAPI:
    return create_app(Settings())


if __name__ == "__main__":
    main()
