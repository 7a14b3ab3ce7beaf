"""Long operator actions run in the background with progress, for the console: blue/green rebuild, rollout and
rollback of a view, and incremental snapshot. They call the same functions as `farmacy rebuild`, `farmacy rollout`,
`farmacy rollback` and `farmacy snapshot`."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from psycopg import sql
from psycopg_pool import ConnectionPool

from farmacy.settings import Settings
from ops.bluegreen import rebuild_view
from ops.control import WorkersPause
from ops.rollout import rollback_view, rollout_view
from ops.snapshots import request_incremental_snapshot
from ops.status import topic_ends
from sinks.views import VIEWS

SNAPSHOT_WAIT_S = 300.0


@dataclass
class Job:
    kind: str
    target: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: float = field(default_factory=time.time)
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    message: str = ""

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.state == "done" else 0)


class Jobs:
    """The jobs one process started (kept in memory: a restart forgets them, the work itself is idempotent)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, target: str, work: Callable[[Job], str]) -> Job:
        job = Job(kind, target)
        with self._lock:
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.message = work(job)
                job.state = "done"
            except Exception as exc:
                job.state = "failed"
                job.message = f"{type(exc).__name__}: {str(exc)[:300]}"

        threading.Thread(target=run, name=f"job-{kind}-{job.id}", daemon=True).start()
        return job

    def all(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started_at, reverse=True)


Progress = Callable[[int, int], None]
FillRun = Callable[[ConnectionPool, Elasticsearch, WorkersPause, Progress], str]


def _fill_work(settings: Settings, view: str, name: str, run: FillRun) -> Callable[[Job], str]:
    """A console job that fills an index of ``view`` with its workers paused through the sync document: ``run`` gets
    the master's pool, Elasticsearch, the workers' pause and the job's progress, and returns the job's result."""
    from sinks.bootstrap import read_pool

    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}")

    def work(job: Job) -> str:
        es = Elasticsearch(settings.elasticsearch_urls, request_timeout=120, serializer=OrjsonSerializer())

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            with read_pool(settings, f"console-{name}") as pool:
                return run(pool, es, WorkersPause(settings, es, view), progress)
        finally:
            es.close()

    return work


def rebuild_work(settings: Settings, view: str) -> Callable[[Job], str]:
    def run(pool: ConnectionPool, es: Elasticsearch, workers: WorkersPause, progress: Progress) -> str:
        result = rebuild_view(
            pool, es, VIEWS[view], workers.pause, workers.resume, progress=progress, replicas=settings.view_replicas
        )
        return (
            f"{result.documents} documents into {result.new_index} in {result.seconds:.1f}s; "
            f"alias swapped from {result.old_index}"
        )

    return _fill_work(settings, view, "rebuild", run)


def rollout_work(settings: Settings, view: str, back: bool = False) -> Callable[[Job], str]:
    """`farmacy rollout VIEW` (pre-flight, fill, swap, keep the old version), or with ``back`` `farmacy rollback VIEW`;
    a refusal fails the job with its message (naming the field)."""

    def run(pool: ConnectionPool, es: Elasticsearch, workers: WorkersPause, progress: Progress) -> str:
        if back:
            result = rollback_view(pool, es, VIEWS[view], workers.pause, workers.resume, progress=progress)
        else:
            result = rollout_view(
                pool, es, VIEWS[view], workers.pause, workers.resume, progress=progress, replicas=settings.view_replicas
            )
        return f"{result.documents} documents into {result.new_index} in {result.seconds:.1f}s; kept {result.old_index}"

    return _fill_work(settings, view, "rollout", run)


def snapshot_work(settings: Settings, tables: list[str], wait_s: float = SNAPSHOT_WAIT_S) -> Callable[[Job], str]:
    """Requests the snapshot, then follows it: progress is records appended to the tables' topics since the
    request, against the tables' row counts (a snapshot re-emits every row; changes meanwhile add to it)."""

    def work(job: Job) -> str:
        topics = [settings.topic(*t.split(".")) for t in tables]
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        before = topic_ends(admin, topics)
        job.total = sum(_row_count(settings, t) for t in tables)
        signal_id = request_incremental_snapshot(settings, tables)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            now = topic_ends(admin, topics)
            job.done = min(job.total, sum(now[t] - before[t] for t in topics))
            if job.done >= job.total:
                return f"signal {signal_id}: {job.total} rows re-emitted"
            time.sleep(1)
        return f"signal {signal_id}: {job.done}/{job.total} rows seen after {wait_s:.0f}s (it goes on in Connect)"

    return work


def _row_count(settings: Settings, table: str) -> int:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*table.split(".")))).fetchone()
    return int(row[0]) if row else 0
