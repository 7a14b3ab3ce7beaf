"""Reconciliation: compare each view with the projection of the master, report drift, and repair it.

The projection is what the sink itself would write (the view's build query over every root), so a
view with zero drift equals the master, document for document. Repair rebuilds the drifted roots from
one snapshot and writes them with the usual versioning, so it can run while the sinks run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from psycopg_pool import ConnectionPool

from sinks.pipeline import RootRefs, bulk_operations, read_bulk_response
from sinks.rebuild import rebuild
from sinks.view import View

BOOKKEEPING = ("source_lsn", "indexed_at")
CHUNK = 500


@dataclass
class Drift:
    view: str
    master_documents: int = 0
    view_documents: int = 0
    missing: list[str] = field(default_factory=list)  # in the master's projection, not in the view
    extra: list[str] = field(default_factory=list)  # in the view, not in the projection
    different: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.extra) + len(self.different)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def projection(pool: ConnectionPool, view: View) -> dict[str, dict[str, Any]]:
    """Every document the view should hold, built from the master (in one snapshot)."""
    docs: dict[str, dict[str, Any]] = {}
    with pool.connection() as conn, conn.transaction():
        for documents in view.documents:
            ids = [str(r[0]) for r in conn.execute(documents.ids_sql)]
            for chunk in _chunks(ids, CHUNK):
                for root_id, doc in conn.execute(documents.build_sql, {"ids": chunk}):
                    docs[str(root_id)] = doc
    return docs


def view_documents(es: Elasticsearch, view: View) -> dict[str, dict[str, Any]]:
    docs = {}
    for hit in scan(es, index=view.alias, query={"query": {"match_all": {}}}, size=1000):
        source = {k: v for k, v in hit["_source"].items() if k not in BOOKKEEPING}
        docs[str(hit["_id"])] = source
    return docs


def compare(view: View, expected: dict[str, dict[str, Any]], actual: dict[str, dict[str, Any]]) -> Drift:
    drift = Drift(view.name, master_documents=len(expected), view_documents=len(actual))
    drift.missing = sorted(expected.keys() - actual.keys())
    drift.extra = sorted(actual.keys() - expected.keys())
    drift.different = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    return drift


def reconcile(pool: ConnectionPool, es: Elasticsearch, view: View, repair: bool = False) -> Drift:
    es.indices.refresh(index=view.alias)
    drift = compare(view, projection(pool, view), view_documents(es, view))
    if repair and drift.total:
        for chunk in _chunks([*drift.missing, *drift.extra, *drift.different], CHUNK):
            rebuilt = rebuild(pool, view, RootRefs(direct=view.by_kind(chunk)))
            outcome = read_bulk_response(dict(es.bulk(operations=bulk_operations(view.alias, rebuilt)).body))
            drift.repaired += outcome.applied
        es.indices.refresh(index=view.alias)
    return drift
