"""Blue/green rebuild of a view: fill a new index from the master, then swap the alias atomically.

Order matters for read-your-writes: the view's workers are paused first (they carry the request out themselves,
between two batches, wherever they run: ops/control.py), so the published applied position stays at what the old
index holds; the new index is then filled from snapshots taken after that, so it holds at least as much; the alias
swap is one atomic _aliases call; the workers resume where they paused and apply what came in meanwhile into the
new index (rebuilds are versioned, so re-applying is harmless). Queries read the old index until the swap and the
new one after it: no downtime; the view only pauses advancing during the fill.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from elasticsearch import Elasticsearch
from psycopg_pool import ConnectionPool

from sinks.indices import index_settings
from sinks.pipeline import Rebuilt, RootRefs, bulk_operations, send_bulk
from sinks.rebuild import rebuild
from sinks.view import View

CHUNK = 500
FILL_BULK_MAX_BYTES = 8 << 20
FILL_BUILDERS = 2  # chunks built at once: the read pool needs as many connections


@dataclass(frozen=True)
class RebuildResult:
    old_index: str | None
    new_index: str
    documents: int
    seconds: float


def current_index(es: Elasticsearch, alias: str) -> str | None:
    if not es.indices.exists_alias(name=alias):
        return None
    return str(next(iter(es.indices.get_alias(name=alias).body)))


def fill(pool: ConnectionPool, es: Elasticsearch, view: View, index: str, progress: Callable[[int, int], None]) -> int:
    """Writes the document of every root into ``index``, chunk by chunk, each chunk from its own snapshot (and
    versioned by it, so the worker catching up afterwards never goes back on a newer document).

    Two chunks are built at once (each on its own connection of ``pool``; the master answers one while Python
    assembles the other) while the previous chunk's _bulk is in flight: a fill costs about the larger of the
    master's and Elasticsearch's share, not their sum. ``progress(done, total)`` after each chunk, in order."""
    with pool.connection() as conn, conn.transaction():
        ids = [[str(r[0]) for r in conn.execute(documents.ids_sql)] for documents in view.documents]
    total = sum(len(kind_ids) for kind_ids in ids)
    chunks = [
        RootRefs.of(kind_ids[i : i + CHUNK], kind)
        for kind, kind_ids in enumerate(ids)
        for i in range(0, len(kind_ids), CHUNK)
    ]
    written = done = 0
    with (
        ThreadPoolExecutor(max_workers=FILL_BUILDERS, thread_name_prefix="fill-build") as build,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="fill-bulk") as bulk,
    ):
        in_flight: Future[tuple[int, int]] | None = None
        for rebuilt, roots in _built_in_order(build, pool, view, chunks):
            if in_flight is not None:
                written, done = _progressed(in_flight, written, done, total, progress)
            in_flight = bulk.submit(_write, es, index, rebuilt, roots)
        if in_flight is not None:
            written, done = _progressed(in_flight, written, done, total, progress)
    return written


def _built_in_order(
    build: ThreadPoolExecutor, pool: ConnectionPool, view: View, chunks: list[RootRefs]
) -> Iterator[tuple[Rebuilt, int]]:
    """Each chunk's documents with its count of roots, in order, FILL_BUILDERS chunks being built at a time."""
    building: deque[tuple[Future[Rebuilt], int]] = deque()
    for refs in chunks:
        roots = sum(len(ids) for ids in refs.direct.values())
        building.append((build.submit(rebuild, pool, view, refs, raw=True), roots))
        if len(building) == FILL_BUILDERS:
            built, roots = building.popleft()
            yield built.result(), roots
    for built, roots in building:
        yield built.result(), roots


def _write(es: Elasticsearch, index: str, rebuilt: Rebuilt, roots: int) -> tuple[int, int]:
    outcome = send_bulk(es, bulk_operations(index, rebuilt), FILL_BULK_MAX_BYTES)
    if outcome.rejected or outcome.retryable:
        raise RuntimeError(f"documents refused while filling {index}: {outcome.rejected or outcome.retryable}")
    return len(rebuilt.docs), roots


def _progressed(
    future: Future[tuple[int, int]], written: int, done: int, total: int, progress: Callable[[int, int], None]
) -> tuple[int, int]:
    docs, roots = future.result()
    progress(done + roots, total)
    return written + docs, done + roots


def rebuild_view(
    pool: ConnectionPool,
    es: Elasticsearch,
    view: View,
    pause_workers: Callable[[], None],
    resume_workers: Callable[[], None],
    delete_old: bool = True,
    progress: Callable[[int, int], None] | None = None,
    replicas: int = 0,
) -> RebuildResult:
    started = time.monotonic()
    old = current_index(es, view.alias)
    new = f"{view.index_name}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    mapping = view.mapping
    es.indices.create(index=new, settings=index_settings(mapping["settings"], replicas), mappings=mapping["mappings"])
    pause_workers()  # returns once no worker of the view writes the old index any more
    try:
        documents = fill(pool, es, view, new, progress or (lambda _done, _total: None))
        es.indices.refresh(index=new)
        actions: list[dict[str, object]] = [{"add": {"index": new, "alias": view.alias, "is_write_index": True}}]
        if old is not None:
            actions.insert(0, {"remove": {"index": old, "alias": view.alias}})
        es.indices.update_aliases(actions=actions)  # one atomic step: readers see old, then new
    except BaseException:
        # The alias never left the old index: the half-filled new one is nobody's, and a retry creates another.
        es.indices.delete(index=new, ignore_unavailable=True)
        raise
    finally:
        resume_workers()
    if delete_old and old is not None:
        es.indices.delete(index=old)
    return RebuildResult(old, new, documents, time.monotonic() - started)
