"""The WAL position a view has fully applied, published for read-your-writes and freshness.

Kafka Connect commits a source task's offsets only after Kafka acknowledged every record before
them, and Debezium then confirms that LSN on the replication slot. So when the slot's
``confirmed_flush_lsn`` is X, every change committed at or before X is already in the topics; if the
worker then reads each partition's end offset and later has applied and committed up to those
offsets, the view holds every commit <= X. That X is published to the sync index, after a refresh
so that searches see it too. Heartbeats keep X moving while the tables are quiet.

A dead-lettered change is not applied, so it holds the published position: while a view has unresolved dead
letters, it publishes at most the position just before the oldest of them (a token read then waits or gets 503,
never a wrong 200). The holds live in the view's sync document, so a restart keeps them; they are released when
the dead letter is re-driven and applied, or when an operator discards it (``farmacy dlq``).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from psycopg_pool import ConnectionPool

from farmacy.lsn import lsn_text
from sinks import metrics
from sinks.errors import RetryableError

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
        new_admin: Callable[[], AdminClient],
        es: Elasticsearch,
        slot: str,
        sync_index: str,
        interval_s: float = 0.1,
    ) -> None:
        # End offsets are read through a separate admin client: on the consumer's own connection the
        # request would queue behind its long-polling fetch and take up to fetch.wait.max.ms. After a broker
        # restart a long-lived admin client can keep failing (stale leader epochs), so a failed read replaces it.
        self.view, self.alias, self.pool, self.consumer, self.es = view, alias, pool, consumer, es
        self.new_admin = new_admin
        self.admin = new_admin()
        self.slot, self.sync_index, self.interval_s = slot, sync_index, interval_s
        self.positions: dict[Partition, int] = {}
        self.pending: deque[Pending] = deque()
        self.reached: int | None = None  # newest position fully applied
        self.applied: int | None = None  # newest position published (reached, capped by the holds)
        self.published_at = time.monotonic()  # when the published position last moved (or the worker started)
        self.holds: dict[str, int] = {}  # unresolved dead letter ("topic[partition]@offset") -> its WAL position
        self.unknown: set[Partition] = set()  # assigned partitions whose committed offset is not known yet
        self._last_observed = 0.0
        self._last_lsn = -1

    # holds: unresolved dead letters keep the published position below them
    def load_holds(self) -> None:
        """Reads the holds this view recorded before a restart."""
        try:
            source = self.es.get(index=self.sync_index, id=self.view)["_source"]
        except NotFoundError:
            return
        self.holds = {str(h["at"]): int(h["lsn"]) for h in source.get("holds") or []}

    def hold(self, coordinates: str, lsn: int | None) -> None:
        """Records an unresolved dead letter before its offset is committed. Without a position of its own
        (unparseable), it holds the view where it is now."""
        held = lsn if lsn is not None else (self.applied or self.reached or 0) + 1
        self._save_holds({**self.holds, coordinates: held})

    def release(self, coordinates: str) -> bool:
        """Releases the hold of a change that is now applied (or discarded); False if it held nothing."""
        if coordinates not in self.holds:
            return False
        self._save_holds({at: lsn for at, lsn in self.holds.items() if at != coordinates})
        return True

    @property
    def cap(self) -> int | None:
        """The highest position that may be published while the holds stand."""
        return min(self.holds.values()) - 1 if self.holds else None

    def _save_holds(self, new: dict[str, int]) -> None:
        """Writes the holds into the view's sync document, then keeps them (an outage if Elasticsearch cannot take
        them: the caller waits it out before committing anything)."""
        holds = [{"at": at, "lsn": lsn} for at, lsn in sorted(new.items())]
        try:
            self.es.update(
                index=self.sync_index, id=self.view, doc={"view": self.view, "holds": holds}, doc_as_upsert=True
            )
        except (ApiError, TransportError) as exc:
            raise RetryableError(f"holds not saved to {self.sync_index}: {exc}") from exc
        self.holds = new

    # positions: next offset to read, per partition, for records applied and committed
    def on_assign(self, partitions: list[TopicPartition]) -> None:
        """Learns where the newly assigned partitions stand. Until that is known (Kafka not answering during a
        rebalance), nothing is published: an unknown partition could hold unapplied changes."""
        self.unknown |= {(tp.topic, tp.partition) for tp in partitions}
        self._resolve_unknown(timeout=10)

    def _resolve_unknown(self, timeout: float) -> None:
        if not self.unknown:
            return
        try:
            committed = self.consumer.committed([TopicPartition(t, p) for t, p in self.unknown], timeout=timeout)
            for tp in committed:
                offset = tp.offset
                if offset < 0:  # nothing committed yet: starts from the beginning of the log
                    offset, _high = self.consumer.get_watermark_offsets(tp, timeout=timeout)
                self.positions[(tp.topic, tp.partition)] = offset
                self.unknown.discard((tp.topic, tp.partition))
        except KafkaException as exc:
            log.warning("positions of assigned partitions not known yet", error=str(exc)[:200], view=self.view)

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.positions.pop((tp.topic, tp.partition), None)
            self.unknown.discard((tp.topic, tp.partition))
        self.pending.clear()

    def committed(self, offsets: dict[Partition, int]) -> None:
        self.positions.update(offsets)

    def end_offsets(self) -> dict[Partition, int]:
        """Current end offset of every assigned partition, in one request."""
        if not self.positions:
            return {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        try:
            futures = self.admin.list_offsets(
                {TopicPartition(t, p): latest for t, p in self.positions}, request_timeout=5
            )
            return {(tp.topic, tp.partition): int(f.result().offset) for tp, f in futures.items()}
        except KafkaException:
            self.admin = self.new_admin()
            raise

    def lag(self) -> dict[Partition, int]:
        """Records not yet applied per partition."""
        return {p: max(0, end - self.positions.get(p, 0)) for p, end in self.end_offsets().items()}

    def tick(self, events: int, dead_letters: int) -> None:
        """Observes the slot at most every ``interval_s`` and publishes what became fully applied."""
        now = time.monotonic()
        if self.unknown:
            self._resolve_unknown(timeout=1)
            if self.unknown:
                return
        if now - self._last_observed >= self.interval_s and self.positions:
            self._last_observed = now
            self._observe()
        while self.pending and all(self.positions.get(p, 0) >= end for p, end in self.pending[0].ends.items()):
            lsn = self.pending.popleft().lsn
            self.reached = lsn if self.reached is None else max(self.reached, lsn)
        if self.reached is None:
            return
        publishable = self.reached if self.cap is None else min(self.reached, self.cap)
        if publishable > 0 and (self.applied is None or publishable > self.applied):
            self._publish(publishable, events, dead_letters)

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
            "holds": [{"at": at, "lsn": held} for at, held in sorted(self.holds.items())],
        }
        self.es.index(index=self.sync_index, id=self.view, document=doc)
        self.applied = lsn
        self.published_at = time.monotonic()
        metrics.WATERMARK_LSN.labels(self.view).set(lsn)
        metrics.WATERMARK_AT.labels(self.view).set_to_current_time()
