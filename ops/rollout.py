"""Changing a view while it serves (docs/changing-a-view.md): pre-flight, roll forward, roll back.

- ``preflight``: the view's new mapping against the live index (a field that changes its type is refused), its SQL
  against the master (a column or table the master lacks is refused, by name), and a sample of its documents against
  the new mapping (a field the mapping does not declare would be refused by Elasticsearch, document by document).
  Nothing is written; a refusal names the field, so a bad change never reaches the worker as dead letters.
- ``rollout_view``: pre-flight, then a blue/green fill of an index of the view's mapping version from the master
  (ops/bluegreen.py: the workers paused, the fill from snapshots taken after that, the alias swapped atomically, the
  workers resumed from where they paused, so they catch up from the recorded position); the index the alias left
  is kept under the alias ``<view>-previous`` for a rollback window (one version kept; the one kept before is deleted).
- ``rollback_view``: the kept index is caught up before the alias swaps back to it: the workers are paused (a pause
  request they carry out between batches, ops/control.py; the view's published position stays at what the live
  index holds), the kept index is refilled from snapshots taken
  after that (documents left out of fields its older mapping lacks, as the worker writes them there) and cleared of
  documents the master no longer has, then the alias swaps and the workers resume, writing the kept index. A
  consistency token is therefore answered from an index that holds its position, before and after the swap.
  The kept index is not fed during the window: that would double the view's Elasticsearch cost for as long as the
  window lasts, for a rare operation that a fill (seconds on the generated dataset) covers.
- ``finish_rollout``: ends the rollback window (deletes the kept index).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan
from psycopg_pool import ConnectionPool

from ops.bluegreen import current_index, fill, rebuild_view
from sinks.errors import DeployError
from sinks.index_version import mapping_version, writable_view
from sinks.mapping_compat import type_changes
from sinks.pipeline import lookup_sql
from sinks.view import Lookup, View

SAMPLE = 200  # documents built and checked against the new mapping
BOOKKEEPING = ("source_lsn", "indexed_at")  # written by the sink beside what the build query returns
MISSING = re.compile(r'(?:column|relation) "?([\w.]+)"? does not exist')


class RolloutError(Exception):
    """The change cannot be rolled out or back as asked; nothing was changed."""


class PreflightError(RolloutError):
    def __init__(self, view: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{view}: the change is refused before anything was written:\n  " + "\n  ".join(problems))


@dataclass(frozen=True)
class Rollout:
    view: str
    old_index: str | None
    new_index: str
    documents: int
    seconds: float
    dropped: str | None  # the index kept before, deleted (one previous version is kept)


def previous_alias(view: View) -> str:
    return f"{view.alias}-previous"


def previous_index(es: Elasticsearch, view: View) -> str | None:
    return current_index(es, previous_alias(view))


def _mappings(es: Elasticsearch, index: str) -> dict[str, Any]:
    return dict(es.indices.get_mapping(index=index).body[index]["mappings"])


# -- pre-flight ----------------------------------------------------------------------------------------------
def unmapped_fields(doc: dict[str, Any], properties: dict[str, Any], prefix: str = "") -> list[str]:
    """Fields of a document that a strict mapping's ``properties`` do not declare (Elasticsearch would refuse it)."""
    found: list[str] = []
    for name, value in doc.items():
        path = f"{prefix}{name}"
        spec = properties.get(name)
        if spec is None:
            found.append(path)
            continue
        inner = spec.get("properties")
        if inner is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict):
                found += unmapped_fields(item, inner, f"{path}.")
    return sorted(set(found))


def schema_problems(pool: ConnectionPool, view: View) -> list[str]:
    """Every query of the view planned against the master with no ids: a column or table it names that the master
    lacks is found without touching a row."""
    problems: list[str] = []
    queries: list[tuple[str, str, dict[str, Any] | list[Any]]] = []
    for kind, documents in enumerate(view.documents):
        queries.append(("build query", documents.build_sql, {"ids": []}))
        queries.append(("id query", documents.ids_sql + " LIMIT 0", {}))
        for table, source in documents.sources.items():
            if isinstance(source, Lookup):
                queries.append((f"lookup of {table}", lookup_sql(view, kind, table), [[]]))
    with pool.connection() as conn:
        for what, sql, params in queries:
            try:
                with conn.transaction():
                    conn.execute(sql, params).fetchall()
            except (psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable) as exc:
                message = exc.diag.message_primary or str(exc)
                match = MISSING.search(message)
                name = match.group(1) if match else "?"
                problems.append(f"field {name!r}: the view's {what} names it and the master lacks it ({message})")
    return problems


def document_problems(pool: ConnectionPool, view: View, mapping: dict[str, Any]) -> list[str]:
    """A sample of the view's documents, as the code builds them, against the new mapping's fields."""
    properties = mapping.get("properties", {})
    unmapped: set[str] = set()
    with pool.connection() as conn, conn.transaction():
        for documents in view.documents:
            ids = [str(r[0]) for r in conn.execute(f"{documents.ids_sql} LIMIT {SAMPLE}")]
            for _, doc in conn.execute(documents.build_sql, {"ids": ids}):
                unmapped.update(unmapped_fields({**doc, **dict.fromkeys(BOOKKEEPING, "")}, properties))
    return [
        f"field {name!r}: the view's documents have it and the new mapping does not declare it (dynamic: strict)"
        for name in sorted(unmapped)
    ]


def preflight(pool: ConnectionPool, es: Elasticsearch, view: View) -> list[str]:
    """What stops the view's mapping file and SQL from going live, one line per field (empty: nothing)."""
    mapping = view.mapping["mappings"]
    problems: list[str] = []
    live = current_index(es, view.alias)
    if live is not None:
        problems += [str(change) for change in type_changes(_mappings(es, live), mapping)]
    schema = schema_problems(pool, view)
    problems += schema
    if not schema:  # documents can only be built once the queries run
        problems += document_problems(pool, view, mapping)
    return problems


def check(pool: ConnectionPool, es: Elasticsearch, view: View) -> None:
    problems = preflight(pool, es, view)
    if problems:
        raise PreflightError(view.name, problems)


# -- roll forward --------------------------------------------------------------------------------------------
def _keep_previous(es: Elasticsearch, view: View, index: str | None) -> str | None:
    """Points ``<view>-previous`` at ``index`` (None: at nothing); deletes the index it pointed at before, unless the
    view's alias points at that one now (a rollback). Returns the deleted index."""
    alias = previous_alias(view)
    before = previous_index(es, view)
    actions: list[dict[str, Any]] = []
    if before is not None:
        actions.append({"remove": {"index": before, "alias": alias}})
    if index is not None:
        actions.append({"add": {"index": index, "alias": alias}})
    if actions:
        es.indices.update_aliases(actions=actions)
    if before is not None and before not in (index, current_index(es, view.alias)):
        es.indices.delete(index=before)
        return before
    return None


def ready_to_roll_out(pool: ConnectionPool, es: Elasticsearch, view: View) -> None:
    """Raises RolloutError when the view cannot be rolled out: the pre-flight refuses it (PreflightError), or the
    alias is on the code's mapping version already."""
    check(pool, es, view)
    live = current_index(es, view.alias)
    if live is not None and mapping_version(_mappings(es, live)) >= view.index_version:
        raise RolloutError(
            f"{view.name}: {live} is already of mapping version {view.index_version}; nothing to roll out "
            f"(`farmacy rebuild {view.name}` refills it)"
        )


def rollout_view(
    pool: ConnectionPool,
    es: Elasticsearch,
    view: View,
    pause_workers: Callable[[], None],
    resume_workers: Callable[[], None],
    progress: Callable[[int, int], None] | None = None,
    replicas: int = 0,
    checked: bool = False,
) -> Rollout:
    """Pre-flight (unless ``checked``: ready_to_roll_out ran), fill an index of the view's mapping version, swap the
    alias, keep the index it left."""
    if not checked:
        ready_to_roll_out(pool, es, view)
    result = rebuild_view(
        pool, es, view, pause_workers, resume_workers, delete_old=False, progress=progress, replicas=replicas
    )
    dropped = _keep_previous(es, view, result.old_index)
    return Rollout(view.name, result.old_index, result.new_index, result.documents, result.seconds, dropped)


# -- roll back -----------------------------------------------------------------------------------------------
def _remove_extra(pool: ConnectionPool, es: Elasticsearch, view: View, index: str) -> int:
    """Deletes the documents of ``index`` whose roots the master no longer has (the workers are paused)."""
    with pool.connection() as conn, conn.transaction():
        wanted = {str(r[0]) for documents in view.documents for r in conn.execute(documents.ids_sql)}
    hits = scan(es, index=index, query={"query": {"match_all": {}}}, size=5000, _source=False)
    extra = [str(hit["_id"]) for hit in hits if str(hit["_id"]) not in wanted]
    for start in range(0, len(extra), 1000):
        es.bulk(operations=[{"delete": {"_index": index, "_id": i}} for i in extra[start : start + 1000]])
    return len(extra)


def rollback_view(
    pool: ConnectionPool,
    es: Elasticsearch,
    view: View,
    pause_workers: Callable[[], None],
    resume_workers: Callable[[], None],
    progress: Callable[[int, int], None] | None = None,
) -> Rollout:
    """Catch the kept index up from the master, swap the alias back to it, keep the index it left."""
    started = time.monotonic()
    kept = previous_index(es, view)
    if kept is None:
        raise RolloutError(f"{view.name}: no previous version is kept ({previous_alias(view)} points at no index)")
    live = current_index(es, view.alias)
    try:
        writing = writable_view(view, kept, _mappings(es, kept))
    except DeployError as exc:
        raise RolloutError(f"{view.name}: {kept} cannot take this code's documents: {exc}") from exc
    pause_workers()
    try:
        documents = fill(pool, es, writing, kept, progress or (lambda _done, _total: None))
        _remove_extra(pool, es, writing, kept)
        es.indices.refresh(index=kept)
        actions: list[dict[str, Any]] = [{"add": {"index": kept, "alias": view.alias, "is_write_index": True}}]
        if live is not None:
            actions.insert(0, {"remove": {"index": live, "alias": view.alias}})
        es.indices.update_aliases(actions=actions)  # one atomic step
    finally:
        resume_workers()
    _keep_previous(es, view, live)
    return Rollout(view.name, live, kept, documents, time.monotonic() - started, None)


def finish_rollout(es: Elasticsearch, view: View) -> str | None:
    """Ends the rollback window: deletes the kept previous index (returned; None when none was kept)."""
    kept = previous_index(es, view)
    if kept is not None:
        es.indices.delete(index=kept)
    return kept
