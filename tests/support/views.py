"""Reading the views the way the tests need: realtime gets, and waiting for a view to apply a position."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import httpx
import psycopg
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.lsn import lsn_int
from farmacy.settings import Settings, http_url
from sinks.views import VIEWS
from tests.support.wait import wait_until


def es_client(settings: Settings) -> Elasticsearch:
    return Elasticsearch(settings.elasticsearch_urls, request_timeout=30)


def current_lsn(settings: Settings) -> int:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").fetchone()
    assert row is not None
    return int(row[0])


def applied(es: Elasticsearch, settings: Settings, view: str) -> int:
    try:
        return int(es.get(index=settings.sync_index, id=view)["_source"]["applied_lsn_int"])
    except NotFoundError:
        return -1


def _has_applied(es: Elasticsearch, settings: Settings, view: str, position: int) -> bool:
    return applied(es, settings, view) >= position


def wait_applied(
    es: Elasticsearch, settings: Settings, token: str | int, views: list[str] | None = None, timeout: float = 30
) -> None:
    """Waits until every given view has applied the WAL position (a command's consistency token)."""
    position = lsn_int(token) if isinstance(token, str) else token
    for view in views or list(VIEWS):
        try:
            wait_until(partial(_has_applied, es, settings, view, position), timeout, f"{view} to apply {token}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{where_it_stands(es, settings, view)}") from None


def where_it_stands(es: Elasticsearch, settings: Settings, view: str) -> str:
    """What a view's position waits for: its sync document, the capture slot, and each running worker's own account
    (its health report's watermark), for the message of a wait that timed out."""
    lines = []
    try:
        lines.append(f"sync document: {json.dumps(es.get(index=settings.sync_index, id=view)['_source'])}")
    except Exception as exc:  # a diagnosis reports what it could not read
        lines.append(f"sync document not read: {exc}")
    try:
        with psycopg.connect(settings.pg_dsn) as conn:
            slots = conn.execute(
                "SELECT slot_name, (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint, active FROM pg_replication_slots"
            ).fetchall()
        lines.append(f"slots (name, confirmed_flush_lsn, active): {slots}; insert position now {current_lsn(settings)}")
    except Exception as exc:
        lines.append(f"slots not read: {exc}")
    for worker in range(4):
        url = f"{http_url(settings.bind_host, settings.sink_port(view, worker))}/health"
        try:
            lines.append(f"worker {worker}: {httpx.get(url, timeout=2).text}")
        except httpx.HTTPError:
            break
    return "\n".join(lines)


def doc(es: Elasticsearch, view: str, doc_id: str) -> dict[str, Any] | None:
    try:
        return dict(es.get(index=view, id=doc_id)["_source"])
    except NotFoundError:
        return None


def version(es: Elasticsearch, view: str, doc_id: str) -> int | None:
    try:
        return int(es.get(index=view, id=doc_id)["_version"])
    except NotFoundError:
        return None
