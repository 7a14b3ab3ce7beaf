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

from sinks.index_version import alias_view
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

    @property
    def ids(self) -> list[str]:
        return [*self.missing, *self.extra, *self.different]


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


def view_ids(es: Elasticsearch, view: View) -> set[str]:
    """Every document id in the view (no sources)."""
    return {
        str(hit["_id"])
        for hit in scan(es, index=view.alias, query={"query": {"match_all": {}}}, size=5000, _source=False)
    }


def _view_sources(es: Elasticsearch, view: View, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The view's documents of ``ids`` as searches see them (found ones only), without the bookkeeping fields."""
    found: dict[str, dict[str, Any]] = {}
    for doc in es.mget(index=view.alias, ids=ids, realtime=False, source_excludes=list(BOOKKEEPING))["docs"]:
        if doc.get("found"):
            found[str(doc["_id"])] = dict(doc["_source"])
    return found


def reconcile(pool: ConnectionPool, es: Elasticsearch, view: View, repair: bool = False) -> Drift:
    """Compares the view with the master's projection a chunk of roots at a time (memory bounded by a chunk and the
    ids, whatever the view's size): each chunk built from one snapshot, then the same ids read from the view.
    The projection is the one the alias's index takes (an older mapping kept for a rollback leaves fields out)."""
    es.indices.refresh(index=view.alias)
    view = alias_view(es, view)
    drift = Drift(view.name)
    expected_ids: set[str] = set()
    with pool.connection() as conn, conn.transaction():
        for documents in view.documents:
            ids = [str(r[0]) for r in conn.execute(documents.ids_sql)]
            for chunk in _chunks(ids, CHUNK):
                expected = {str(root_id): doc for root_id, doc in conn.execute(documents.build_sql, {"ids": chunk})}
                if not expected:
                    continue
                expected_ids |= expected.keys()
                actual = _view_sources(es, view, sorted(expected))
                drift.missing += [k for k in expected if k not in actual]
                drift.different += [k for k in expected if k in actual and expected[k] != actual[k]]
    in_view = view_ids(es, view)
    drift.master_documents, drift.view_documents = len(expected_ids), len(in_view)
    drift.missing.sort()
    drift.different.sort()
    drift.extra = sorted(in_view - expected_ids)
    if repair and drift.total:
        drift.repaired = repair_roots(pool, es, view, drift.ids)
    return drift


def repair_roots(pool: ConnectionPool, es: Elasticsearch, view: View, ids: list[str]) -> int:
    """Rebuilds the roots from one snapshot per chunk and writes them versioned; returns the documents applied."""
    applied = 0
    for chunk in _chunks(ids, CHUNK):
        rebuilt = rebuild(pool, view, RootRefs(direct=view.by_kind(chunk)))
        outcome = read_bulk_response(dict(es.bulk(operations=bulk_operations(view.alias, rebuilt)).body))
        applied += outcome.applied
    es.indices.refresh(index=view.alias)
    return applied


def confirmed(first: Drift, second: Drift) -> Drift:
    """Drift seen in two passes: a document the sink was about to update when the first pass read it is not drift."""
    drift = Drift(second.view, master_documents=second.master_documents, view_documents=second.view_documents)
    drift.missing = sorted(set(first.missing) & set(second.missing))
    drift.extra = sorted(set(first.extra) & set(second.extra))
    drift.different = sorted(set(first.different) & set(second.different))
    return drift
