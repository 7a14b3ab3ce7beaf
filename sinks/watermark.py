"""The WAL position a view has fully applied, published for read-your-writes and freshness.

Kafka Connect commits a source task's offsets only after Kafka acknowledged every record before
them, and Debezium then confirms that LSN on the replication slot. So when the slot's
``confirmed_flush_lsn`` is X, every change committed at or before X is already in the topics; if the
worker then reads each partition's end offset and later has applied and committed up to those
offsets, the view holds every commit <= X. That X is published to the sync index, after a refresh
so that searches see it too. Heartbeats keep X moving while the tables are quiet.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch
from psycopg_pool import ConnectionPool

from farmacy.lsn import lsn_text
from sinks import metrics

log = structlog.get_logger("watermark")
Partition = tuple[str, int]


@dataclass(frozen=True)
class Pending:
    lsn: int
    ends: dict[Partition, int]


class Watermark:
    def __init__(
        self,
        view: str,
        alias: str,
        pool: ConnectionPool,
        consumer: Consumer,
        admin: AdminClient,
        es: Elasticsearch,
        slot: str,
        sync_index: str,
        interval_s: float = 0.1,
    ) -> None:
        # End offsets are read through a separate admin client: on the consumer's own connection the
        # request would queue behind its long-polling fetch and take up to fetch.wait.max.ms.
        self.view, self.alias, self.pool, self.consumer, self.es = view, alias, pool, consumer, es
        self.admin = admin
        self.slot, self.sync_index, self.interval_s = slot, sync_index, interval_s
        self.positions: dict[Partition, int] = {}
        self.pending: deque[Pending] = deque()
        self.applied: int | None = None
        self._last_observed = 0.0
        self._last_lsn = -1

    # positions: next offset to read, per partition, for records applied and committed
    def on_assign(self, partitions: list[TopicPartition]) -> None:
        committed = self.consumer.committed(partitions, timeout=10)
        for tp in committed:
            offset = tp.offset
            if offset < 0:  # nothing committed yet: starts from the beginning of the log
                offset, _high = self.consumer.get_watermark_offsets(tp, timeout=10)
            self.positions[(tp.topic, tp.partition)] = offset

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.positions.pop((tp.topic, tp.partition), None)
        self.pending.clear()

    def committed(self, offsets: dict[Partition, int]) -> None:
        self.positions.update(offsets)

    def end_offsets(self) -> dict[Partition, int]:
        """Current end offset of every assigned partition, in one request."""
        if not self.positions:
            return {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        futures = self.admin.list_offsets({TopicPartition(t, p): latest for t, p in self.positions}, request_timeout=5)
        return {(tp.topic, tp.partition): int(f.result().offset) for tp, f in futures.items()}

    def lag(self) -> dict[Partition, int]:
        """Records not yet applied per partition."""
        return {p: max(0, end - self.positions.get(p, 0)) for p, end in self.end_offsets().items()}

    def tick(self, events: int, dead_letters: int) -> None:
        """Observes the slot at most every ``interval_s`` and publishes what became fully applied."""
        now = time.monotonic()
        if now - self._last_observed >= self.interval_s and self.positions:
            self._last_observed = now
            self._observe()
        newest = None
        while self.pending and all(self.positions.get(p, 0) >= end for p, end in self.pending[0].ends.items()):
            newest = self.pending.popleft().lsn
        if newest is not None and (self.applied is None or newest > self.applied):
            self._publish(newest, events, dead_letters)

    def _observe(self) -> None:
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint FROM pg_replication_slots WHERE slot_name = %s",
                [self.slot],
            ).fetchone()
        if row is None or row[0] is None or int(row[0]) <= self._last_lsn:
            return
        lsn = int(row[0])
        self._last_lsn = lsn
        self.pending.append(Pending(lsn, self.end_offsets()))

    def _publish(self, lsn: int, events: int, dead_letters: int) -> None:
        self.es.indices.refresh(index=self.alias)
        doc: dict[str, Any] = {
            "view": self.view,
            "applied_lsn": lsn_text(lsn),
            "applied_lsn_int": lsn,
            "index": self.alias,
            "applied_at": datetime.now(UTC).isoformat(),
            "events": events,
            "dead_letters": dead_letters,
        }
        self.es.index(index=self.sync_index, id=self.view, document=doc)
        self.applied = lsn
        metrics.WATERMARK_LSN.labels(self.view).set(lsn)
        metrics.WATERMARK_AT.labels(self.view).set_to_current_time()
