"""How fresh a view is, and read-your-writes: wait (bounded) until a view has applied a command's
consistency token. The sinks publish each view's applied WAL position in the sync index
(sinks/watermark.py)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import structlog
from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel, Field

from farmacy import consistency
from farmacy.consistency import SyncDocument as F
from farmacy.errors import DomainError, InvalidInput

POLL_S = 0.015
log = structlog.get_logger("freshness")


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
    Header(alias=consistency.HEADER, description="Token from a command response: wait until the view has it"),
]
ConsistencyQuery = Annotated[str | None, Query(alias=consistency.FIELD, pattern=consistency.PATTERN)]


@dataclass(frozen=True)
class PresentedToken:
    """The consistency token a request presented: its header, else its query parameter. A route parses it where it
    needs it (``lsn``), so an error in its other inputs that it checks first is reported first."""

    header: str | None
    query: str | None

    def lsn(self) -> int | None:
        raw = self.header or self.query
        if raw is None:
            return None
        try:
            return consistency.parse_token(raw)
        except ValueError as exc:
            raise InvalidInput(
                f"{raw!r} is not a consistency token",
                field=consistency.HEADER,
                rule="must be a WAL position like 0/1A2B3C",
            ) from exc


async def presented_token(header: ConsistencyHeader = None, query: ConsistencyQuery = None) -> PresentedToken:
    return PresentedToken(header, query)


# Every view read takes a token, as the header or the query parameter (one dependency, so they are declared once).
ConsistencyToken = Annotated[PresentedToken, Depends(presented_token)]


@dataclass(frozen=True)
class Published:
    """A view's sync document as read at ``read_at`` (monotonic clock). Whatever it says was true when it was read,
    so it is a lower bound for every search that starts afterwards: a sink refreshes the view's index before it
    publishes a position that covers writes not yet searchable, so a published position is searchable."""

    applied: int | None
    source: dict[str, Any]
    read_at: float

    def covers(self, token: int) -> bool:
        return self.applied is not None and self.applied >= token

    def freshness(self, view: str, waited_ms: float) -> ViewFreshness:
        src = self.source
        return ViewFreshness(
            view=view,
            applied_lsn=str(src[F.APPLIED_LSN]) if src.get(F.APPLIED_LSN) else None,
            applied_at=src.get(F.APPLIED_AT) if src else None,
            waited_ms=waited_ms,
            dead_letters=int(str(src.get(F.DEAD_LETTERS) or 0)),
        )


def _published(doc: dict[str, Any] | None, read_at: float) -> Published:
    if doc is None:
        return Published(None, {}, read_at)
    # A view that recorded a dead-letter hold before it ever published has a sync document with no position yet.
    applied = doc.get(F.APPLIED_LSN_INT)
    return Published(int(applied) if applied is not None else None, dict(doc), read_at)


class Watermarks:
    """Every view's published position, kept fresh by one background read of the sync index per
    ``refresh_s`` (per process). A search is then one Elasticsearch round trip: the position it reports was read
    before it started. A read with a consistency token the cached position does not cover reads the sync document
    itself (and polls), so a token is never answered from older data than it names."""

    def __init__(self, es: AsyncElasticsearch, index: str, views: tuple[str, ...], refresh_s: float) -> None:
        self.es, self.index, self.views, self.refresh_s = es, index, views, refresh_s
        # A cached position older than this is not used (the refresher may be failing): read it instead.
        self.max_age_s = max(1.0, 10 * refresh_s)
        self._known: dict[str, Published] = {}
        self._bodies: dict[str, tuple[Published, dict[str, Any]]] = {}
        self._task: asyncio.Task[None] | None = None

    def cached(self, view: str) -> Published | None:
        known = self._known.get(view)
        if known is None or time.monotonic() - known.read_at > self.max_age_s:
            return None
        return known

    def body(self, view: str, published: Published) -> dict[str, Any]:
        """The "view" member of a response read with no token: built once per position read, shared by every
        response until the next read (never changed by them)."""
        built = self._bodies.get(view)
        if built is None or built[0] is not published:
            built = self._bodies[view] = (published, published.freshness(view, 0).model_dump(mode="json"))
        return built[1]

    async def read(self, view: str) -> Published:
        """The sync document now (a realtime GET), remembered for the next requests."""
        read_at = time.monotonic()
        try:
            doc = await self.es.get(index=self.index, id=view)
            published = _published(dict(doc["_source"]), read_at)
        except NotFoundError:
            published = _published(None, read_at)
        self._remember(view, published)
        return published

    async def refresh(self) -> None:
        read_at = time.monotonic()
        resp = await self.es.mget(index=self.index, ids=list(self.views))
        for doc in resp["docs"]:
            if "error" not in doc:
                self._remember(doc["_id"], _published(doc.get("_source") if doc.get("found") else None, read_at))

    def _remember(self, view: str, published: Published) -> None:
        known = self._known.get(view)
        if known is None or known.read_at <= published.read_at:  # a slower, older read never replaces a newer one
            self._known[view] = published

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watermarks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                failing = False
                await asyncio.sleep(self.refresh_s)
            except Exception as exc:  # the view store away: requests read (and fail) themselves; retry calmly
                if not failing:
                    log.warning("watermark refresh failing", error=f"{type(exc).__name__}: {str(exc)[:200]}")
                failing = True
                await asyncio.sleep(1.0)


async def freshness(request: Request, view: str, token: int | None) -> ViewFreshness:
    """The view's applied position; with a token, first waits until it is reached (503 past the bound)."""
    settings = request.app.state.settings
    watermarks: Watermarks = request.app.state.watermarks
    started = time.perf_counter()
    deadline = started + settings.consistency_wait_s
    published = watermarks.cached(view)
    if published is None or (token is not None and not published.covers(token)):
        published = await watermarks.read(view)
    while token is not None and not published.covers(token):
        if time.perf_counter() >= deadline:
            raise ViewBehind(
                f"the {view} view has applied {published.source.get(F.APPLIED_LSN, 'nothing')} but not yet your "
                "write; retry shortly",
                extra={"retry_after_s": 1},
            )
        await asyncio.sleep(POLL_S)
        published = await watermarks.read(view)
    waited_ms = round((time.perf_counter() - started) * 1000, 1) if token is not None else 0
    return published.freshness(view, waited_ms)


async def freshness_body(request: Request, view: str, token: int | None) -> dict[str, Any]:
    """``freshness`` as the response's JSON member; a read with no token takes the one built for its position."""
    if token is None:
        watermarks: Watermarks = request.app.state.watermarks
        published = watermarks.cached(view)
        if published is not None:
            return watermarks.body(view, published)
    return (await freshness(request, view, token)).model_dump(mode="json")
