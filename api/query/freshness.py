"""How fresh a view is, and read-your-writes: wait (bounded) until a view has applied a command's
consistency token. The sinks publish each view's applied WAL position in the sync index
(sinks/watermark.py)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated

from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import Header, Query, Request
from pydantic import BaseModel, Field

from farmacy.errors import DomainError, InvalidInput
from farmacy.lsn import lsn_int

POLL_S = 0.015


class ViewFreshness(BaseModel):
    view: str
    applied_lsn: str | None = Field(description="Every commit at or before this WAL position is in the view")
    applied_at: datetime | None = Field(description="When the view reached that position")
    waited_ms: float = Field(0, description="Time spent waiting for the consistency token")
    dead_letters: int = Field(
        0,
        description="Events this view's worker dead-lettered since it started: their "
        "changes are missing from the view until re-driven",
    )


class ViewBehind(DomainError):
    code = "view-behind"
    title = "The view has not caught up with your write yet"


ConsistencyHeader = Annotated[
    str | None,
    Header(alias="X-Consistency-Token", description="Token from a command response: wait until the view has it"),
]
ConsistencyQuery = Annotated[
    str | None, Query(alias="consistency_token", pattern=r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
]


def parse_token(header: str | None, query: str | None) -> int | None:
    raw = header or query
    if raw is None:
        return None
    try:
        return lsn_int(raw.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"{raw!r} is not a consistency token",
            field="X-Consistency-Token",
            rule="must be a WAL position like 0/1A2B3C",
        ) from exc


async def _applied(es: AsyncElasticsearch, index: str, view: str) -> tuple[int | None, dict[str, object]]:
    try:
        doc = await es.get(index=index, id=view)
    except NotFoundError:
        return None, {}
    source = dict(doc["_source"])
    # A view that recorded a dead-letter hold before it ever published has a sync document with no position yet.
    applied = source.get("applied_lsn_int")
    return (int(applied) if applied is not None else None), source


async def freshness(request: Request, view: str, token: int | None) -> ViewFreshness:
    """The view's applied position; with a token, first waits until it is reached (503 past the bound)."""
    settings = request.app.state.settings
    es: AsyncElasticsearch = request.app.state.es
    started = time.perf_counter()
    deadline = started + settings.consistency_wait_s
    while True:
        applied, source = await _applied(es, settings.sync_index, view)
        if token is None or (applied is not None and applied >= token):
            break
        if time.perf_counter() >= deadline:
            raise ViewBehind(
                f"the {view} view has applied {source.get('applied_lsn', 'nothing')} but not yet your write; "
                "retry shortly",
                extra={"retry_after_s": 1},
            )
        await asyncio.sleep(POLL_S)
    return ViewFreshness(
        view=view,
        applied_lsn=str(source["applied_lsn"]) if source.get("applied_lsn") else None,
        applied_at=source.get("applied_at") if source else None,
        waited_ms=round((time.perf_counter() - started) * 1000, 1) if token is not None else 0,
        dead_letters=int(str(source.get("dead_letters") or 0)),
    )
