"""Scheduled reconciliation, the batch synchronization beside the streaming one: every
``FARMACY_RECONCILE_INTERVAL_S`` each view is compared with the projection of the master; drift seen in two
passes a few seconds apart (so an update in flight is not counted) is exported as metrics, which raise the alert
ViewDrift, and repaired when ``FARMACY_RECONCILE_REPAIR`` is set.

    python -m ops.reconciler        (runs under the local stack's supervisor as `reconciler`)
    python -m ops.reconciler --once (one pass over every view, then exit: 1 when drift remains; for a CronJob)
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import structlog
from elasticsearch import Elasticsearch
from prometheus_client import Counter, Gauge
from psycopg_pool import ConnectionPool

from farmacy.logs import allow_core_dumps, configure_logging
from farmacy.settings import Settings
from ops.reconcile import Drift, confirmed, reconcile, repair_roots
from sinks.views import VIEWS

log = structlog.get_logger("reconciler")
DRIFT = Gauge("farmacy_reconcile_drift_documents", "Drifted documents found by the last run", ["view", "kind"])
LAST_RUN = Gauge("farmacy_reconcile_last_run_timestamp_seconds", "When the view was last reconciled", ["view"])
RUNS = Counter("farmacy_reconcile_runs_total", "Scheduled reconciliations by outcome", ["view", "outcome"])
REPAIRED = Counter("farmacy_reconcile_repaired_total", "Documents rewritten by scheduled repair", ["view"])
SETTLE_S = 5.0


def reconcile_confirmed(pool: ConnectionPool, es: Elasticsearch, view: str, settle_s: float = SETTLE_S) -> Drift:
    first = reconcile(pool, es, VIEWS[view])
    if not first.total:
        return first
    time.sleep(settle_s)
    return confirmed(first, reconcile(pool, es, VIEWS[view]))


def run_once(settings: Settings, pool: ConnectionPool, es: Elasticsearch, settle_s: float = SETTLE_S) -> list[Drift]:
    results = []
    for view in settings.views:
        try:
            drift = reconcile_confirmed(pool, es, view, settle_s)
        except Exception as exc:
            RUNS.labels(view, "error").inc()
            log.warning("reconcile failed", view=view, error=f"{type(exc).__name__}: {str(exc)[:200]}")
            continue
        for kind in ("missing", "extra", "different"):
            DRIFT.labels(view, kind).set(len(getattr(drift, kind)))
        LAST_RUN.labels(view).set_to_current_time()
        if drift.total and settings.reconcile_repair:
            drift.repaired = repair_roots(pool, es, VIEWS[view], drift.ids)
            REPAIRED.labels(view).inc(drift.repaired)
        RUNS.labels(view, "drift" if drift.total else "clean").inc()
        log.info(
            "reconciled",
            view=view,
            missing=len(drift.missing),
            extra=len(drift.extra),
            different=len(drift.different),
            repaired=drift.repaired,
        )
        results.append(drift)
    return results


def once(settings: Settings) -> int:
    from sinks.bootstrap import read_pool

    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=60)
    try:
        with read_pool(settings, "reconciler") as pool:
            drifts = run_once(settings, pool, es)
    finally:
        es.close()
    remaining = sum(d.total - d.repaired for d in drifts)
    return 1 if remaining > 0 or len(drifts) < len(settings.views) else 0


def main() -> None:
    from sinks.bootstrap import read_pool
    from sinks.health_server import serve

    allow_core_dumps()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    if "--once" in sys.argv[1:]:
        raise SystemExit(once(settings))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    state: dict[str, Any] = {"status": "ok", "service": "reconciler", "interval_s": settings.reconcile_interval_s}
    server = serve(settings.bind_host, settings.reconciler_port, lambda: dict(state))
    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=60)
    log.info("reconciler started", interval_s=settings.reconcile_interval_s, repair=settings.reconcile_repair)
    try:
        with read_pool(settings, "reconciler") as pool:
            while not stop.is_set():
                drifts = run_once(settings, pool, es)
                state["last_run_at"] = time.time()
                state["drift"] = {d.view: d.total for d in drifts}
                stop.wait(settings.reconcile_interval_s)
    finally:
        es.close()
        server.shutdown()


if __name__ == "__main__":
    main()
