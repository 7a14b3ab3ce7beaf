"""Reading the views the way the tests need: realtime gets, and waiting for a view to apply a position."""

from __future__ import annotations

from functools import partial
from typing import Any

import psycopg
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.lsn import lsn_int
from farmacy.settings import Settings
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
        wait_until(partial(_has_applied, es, settings, view, position), timeout, f"{view} to apply {token}")


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
