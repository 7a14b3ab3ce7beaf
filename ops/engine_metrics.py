"""What the engines say about themselves, as Prometheus metrics: Elasticsearch cluster health, Kafka Connect
connector and task states, the replication slot (active, WAL retained), and each view's published position.

A collector read at scrape time (served by the watchdog on its /metrics), so a value is never older than the
scrape, and an engine that does not answer is reported as down (``farmacy_engine_up``) instead of going silent.
The view positions are read from the sync index, not from the sink, so a stopped sink still shows up as a stale
view (alert ViewStale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import psycopg
from elasticsearch import Elasticsearch
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from farmacy.connect import ConnectClient, load_specs
from farmacy.consistency import SyncDocument as F
from farmacy.settings import Settings

ES_STATUSES = ("green", "yellow", "red")
CONNECT_STATES = ("RUNNING", "PAUSED", "FAILED", "UNASSIGNED", "RESTARTING", "STOPPED")
TIMEOUT_S = 3


class EngineCollector(Collector):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("farmacy_engine_up", "1 when the engine answered this scrape", labels=["engine"])
        for engine, read in (
            ("elasticsearch", self._elasticsearch),
            ("connect", self._connect),
            ("postgres", self._slot),
        ):
            try:
                metrics = list(read())
            except Exception:
                up.add_metric([engine], 0)
                continue
            up.add_metric([engine], 1)
            yield from metrics
        yield up

    def _elasticsearch(self) -> Iterator[Metric]:
        es = Elasticsearch(self.settings.elasticsearch_urls, request_timeout=TIMEOUT_S)
        try:
            health = es.cluster.health()
            views = es.mget(index=self.settings.sync_index, ids=list(self.settings.views))["docs"]
        finally:
            es.close()
        status = GaugeMetricFamily(
            "farmacy_elasticsearch_cluster_status", "1 for the cluster's current status", labels=["status"]
        )
        for name in ES_STATUSES:
            status.add_metric([name], 1 if health["status"] == name else 0)
        yield status
        yield _gauge(
            "farmacy_elasticsearch_unassigned_shards", "Shards not assigned", [], float(health["unassigned_shards"])
        )
        applied = GaugeMetricFamily(
            "farmacy_view_applied_timestamp_seconds",
            "When the view last published a newer applied position (from the sync index)",
            labels=["view"],
        )
        for doc in views:
            if doc.get("found") and doc["_source"].get(F.APPLIED_AT):
                applied.add_metric([doc["_id"]], datetime.fromisoformat(doc["_source"][F.APPLIED_AT]).timestamp())
        yield applied

    def _connect(self) -> Iterator[Metric]:
        client = ConnectClient(self.settings.connect_urls, timeout=TIMEOUT_S)
        state = GaugeMetricFamily(
            "farmacy_connect_connector_state", "1 for the connector's current state", labels=["connector", "state"]
        )
        tasks = GaugeMetricFamily(
            "farmacy_connect_task_running", "1 when the task is RUNNING", labels=["connector", "task"]
        )
        try:
            for spec in load_specs(self.settings):
                status = client.status(spec.name)
                current = status["connector"]["state"] if status else "UNASSIGNED"
                for name in CONNECT_STATES:
                    state.add_metric([spec.name, name], 1 if current == name else 0)
                for task in (status or {}).get("tasks", []):
                    tasks.add_metric([spec.name, str(task["id"])], 1 if task["state"] == "RUNNING" else 0)
        finally:
            client.close()
        yield state
        yield tasks

    def _slot(self) -> Iterator[Metric]:
        with psycopg.connect(self.settings.pg_dsn, connect_timeout=TIMEOUT_S) as conn:
            row = conn.execute(
                """SELECT active, (pg_current_wal_lsn() - restart_lsn)::bigint,
                          (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint
                   FROM pg_replication_slots WHERE slot_name = %s""",
                [self.settings.slot_name],
            ).fetchone()
        slot = [self.settings.slot_name]
        exists = row is not None
        yield _gauge("farmacy_replication_slot_exists", "1 when the capture slot exists", ["slot"], float(exists), slot)
        if row is not None:
            active, retained, lag = row
            yield _gauge(
                "farmacy_replication_slot_active",
                "1 while a client streams from the slot",
                ["slot"],
                float(bool(active)),
                slot,
            )
            yield _gauge(
                "farmacy_replication_slot_retained_bytes",
                "WAL the slot keeps on disk (behind restart_lsn)",
                ["slot"],
                float(retained or 0),
                slot,
            )
            yield _gauge(
                "farmacy_replication_slot_lag_bytes",
                "WAL not yet confirmed by the connector",
                ["slot"],
                float(lag or 0),
                slot,
            )


def _gauge(name: str, doc: str, labels: list[str], value: float, label_values: list[str] | None = None) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=labels)
    family.add_metric(label_values or [], value)
    return family


def register(settings: Settings, registry_register: Callable[[Collector], None]) -> EngineCollector:
    collector = EngineCollector(settings)
    registry_register(collector)
    return collector
