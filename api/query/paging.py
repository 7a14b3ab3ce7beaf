"""Cursor pagination (search_after) shared by the list endpoints."""

from __future__ import annotations

from typing import Any

from api.query.catalog_query import decode_cursor, encode_cursor
from api.query.es_reads import Reads


async def page(
    es: Reads,
    index: str,
    query: dict[str, Any],
    sort: list[dict[str, Any]],
    size: int,
    cursor: str | None,
    source_excludes: list[str] | None = None,
) -> tuple[list[dict[str, Any]], int, str | None]:
    """Returns (hits, total, next_cursor) for one page of ``size`` hits."""
    body: dict[str, Any] = {"query": query, "sort": sort, "size": size + 1, "track_total_hits": True}
    if cursor:
        body["search_after"] = decode_cursor(cursor, sort)
    if source_excludes:
        body["_source"] = {"excludes": source_excludes}
    resp = await es.search(index=index, body=body)
    hits = list(resp["hits"]["hits"])
    next_cursor = encode_cursor(hits[size - 1]["sort"]) if len(hits) > size else None
    return hits[:size], int(resp["hits"]["total"]["value"]), next_cursor
