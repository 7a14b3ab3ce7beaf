"""Applying one batch: its roots rebuilt from the master and written to the view's index in a versioned _bulk, and
what Elasticsearch's answer means for the runner's failure policy (sinks/errors.py): an outage to wait out, a deploy
error, a bounded failure, or poison (documents the mapping rejects)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from elasticsearch import ApiError, Elasticsearch, TransportError
from psycopg_pool import ConnectionPool

from sinks import metrics
from sinks.errors import DeployError, PoisonEventError, RequestTooLarge, RetryableError
from sinks.events import ChangeEvent
from sinks.pipeline import bulk_operations, route, send_bulk
from sinks.rebuild import rebuild
from sinks.view import View


@dataclass(frozen=True)
class BatchApplied:
    lsn: int  # WAL position of the snapshot the roots were rebuilt from
    indexed: int
    deleted: int
    started: float  # perf_counter() when the rebuild started
    rebuild_s: float


def apply_batch(
    view: View,
    pool: ConnectionPool,
    es: Elasticsearch,
    events: list[ChangeEvent],
    bulk_max_bytes: int,
    check_index: Callable[[], View],
    on_written: Callable[[], None] | None = None,
    replaying: Callable[[ChangeEvent], bool] | None = None,
) -> BatchApplied | None:
    """Rebuilds the roots the events touch and writes them; None when the events touch no root of the view (an
    update that changed nothing the view reads, unless ``replaying`` says a replay reads it again).
    ``check_index`` runs first (the index-version check) and gives the view as the index takes its documents (the
    view, or its projection onto an older mapping kept for a rollback); ``on_written`` once Elasticsearch acknowledged
    the _bulk."""
    refs = route(view, events, replaying)
    if refs.empty():
        return None
    writing = check_index()
    t0 = time.perf_counter()
    rebuilt = rebuild(pool, writing, refs, raw=True)  # documents pass through as JSON text
    t1 = time.perf_counter()
    metrics.REBUILD_SECONDS.labels(view.name).observe(t1 - t0)
    ops = bulk_operations(view.alias, rebuilt)
    if ops:
        try:
            outcome = send_bulk(es, ops, bulk_max_bytes)
        except TransportError as exc:
            raise RetryableError(f"elasticsearch unavailable: {exc}") from exc
        except ApiError as exc:
            # A refusal of the whole request (write block, security, missing index, too large, overload) says
            # nothing about the events in it. Only a malformed request (400) is ours to fix: a bounded failure.
            if exc.meta.status == 404:
                raise DeployError(f"elasticsearch answered 404 for the bulk request: {exc}") from exc
            if exc.meta.status == 413:  # too large: not an outage to wait out; the batch is split until it fits
                raise RequestTooLarge(f"bulk request too large for elasticsearch: {str(exc)[:200]}") from exc
            if exc.meta.status != 400:
                raise RetryableError(f"elasticsearch answered {exc.meta.status}: {str(exc)[:200]}") from exc
            raise
        if on_written is not None:
            on_written()  # searchable after the refresh before the next publication
        metrics.BULK_SECONDS.labels(view.name).observe(time.perf_counter() - t1)
        metrics.DOCS.labels(view.name, "applied").inc(outcome.applied)
        metrics.DOCS.labels(view.name, "stale").inc(outcome.stale)
        if outcome.deploy:
            raise DeployError(f"index not as deployed: {dict(list(outcome.deploy.items())[:3])}")
        if outcome.retryable:
            raise RetryableError(f"bulk items to retry: {dict(list(outcome.retryable.items())[:3])}")
        if outcome.rejected:
            metrics.DOCS.labels(view.name, "rejected").inc(len(outcome.rejected))
            raise PoisonEventError(f"documents rejected: {dict(list(outcome.rejected.items())[:3])}")
    return BatchApplied(rebuilt.lsn, len(rebuilt.docs), len(rebuilt.deleted), t0, t1 - t0)
