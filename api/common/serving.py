"""How the APIs are served: uvicorn worker processes (a setting, by default one), uvloop and httptools, and with
several, Prometheus metrics aggregated across the processes (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import tempfile

import uvicorn
from fastapi.telemetry import TelemetryConfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_HEALTHCHECK_S = 60


# FastAPI's own OpenTelemetry hooks, off: the APIs' metrics are Prometheus's (api/common/observability.py) and no
# OpenTelemetry SDK is configured, yet FastAPI asked on every request whether one was.
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def worker_count(configured: int) -> int:
    """0 means one process per CPU core."""
    return configured or os.cpu_count() or 1


# The collector's thresholds once the app has started: a young collection after this many more allocations than
# deallocations (Python's default: 700), an older one after 50 young ones and a full one after 100 of those. A
# search parses Elasticsearch's answer into about 2,000 objects, all freed by reference counting (JSON has no
# cycles): with the default, the query API ran three young collections per search, and at 100 clients every tenth
# of them traversed the answers of all the searches in flight (4.7 ms each), 0.13 ms per search in all. Cycles
# still get collected, later and in bigger batches.
COLLECTOR_THRESHOLDS = (100_000, 50, 100)


def freeze_startup_heap() -> None:
    """Moves every object alive after start-up (modules, the app, its routes and models: about 140,000 tracked
    objects) out of the collector's reach, and sets COLLECTOR_THRESHOLDS. The objects frozen live as long as the
    process; left in, each full collection traversed them all, a pause of 165-280 ms measured on this loaded 2-core
    host, during which every request of the process waits. Called once the app has started, in each worker
    process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)


def serve(factory: str, service: str, host: str, port: int, workers: int) -> None:
    """Runs ``factory`` (``module:function`` returning the app) in ``workers`` processes on one socket."""
    if workers > 1 and MULTIPROC_ENV not in os.environ:
        # Each worker writes its samples to files here and /metrics merges them; set before any worker starts (the
        # workers inherit it), and fresh per start, so counters of a previous run are not added in.
        metrics_dir = tempfile.mkdtemp(prefix=f"farmacy-{service}-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        # A worker that starts (imports) or answers the supervisor's ping slowly on a loaded host is killed and
        # restarted after this long; uvicorn's 5 s made workers restart in a loop under load.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )
