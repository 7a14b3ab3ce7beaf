"""The WAL position a view has fully applied, published for read-your-writes and freshness.

Kafka Connect commits a source task's offsets only after Kafka acknowledged every record before
them, and Debezium then confirms that LSN on the replication slot. So when the slot's
``confirmed_flush_lsn`` is X, every change committed at or before X is already in the topics; if the
worker then reads each partition's end offset and later has applied and committed up to those
offsets, the view holds every commit <= X. That X is published to the sync index. Searches see it
too: before a publication that could cover a write not yet searchable (this worker wrote since its last refresh, or
another worker's committed offsets moved), the worker refreshes the view's index, and a refresh makes searchable every
write acknowledged before it started. Refreshes and publications are a cost per interval, not per batch: while changes
flow, a worker publishes at most every ``publish_interval_s`` (the first change after a quiet spell at once), and a
_bulk never forces a refresh of its own. Heartbeats keep X moving while the tables are quiet.

A dead-lettered change is not applied, so it holds the published position: while a view has unresolved dead
letters, it publishes at most the position just before the oldest of them (a token read then waits or gets 503,
never a wrong 200). The holds live in the view's sync document, so a restart keeps them; they are released when
the dead letter is re-driven and applied, or when an operator discards it (``farmacy dlq``).

Several workers share a view's partitions, so no worker knows the view's position alone. Each publishes what its
own partitions have reached ("topic[partition]" -> X in the sync document's partitions). Every change of the
view's sync document is a compare-and-set (read it, change it with ``sync_document``, write it only if nobody wrote
in between, else again), and sets the view's position to the lowest X over every partition of the view's topics,
capped by the holds, never lowered (sinks/sync_document.py works it out). Holds are added and released one at a time
in the same way, so two workers never overwrite each other's.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from psycopg_pool import ConnectionPool

from farmacy.consistency import SyncDocument as F
from sinks import metrics
from sinks.errors import RetryableError
from sinks.slot import SlotObserver
from sinks.sync_document import Partition, held, partition_key, partition_of, sync_document
from sinks.sync_store import SyncStore

log = structlog.get_logger("watermark")


@dataclass(frozen=True)
class Pending:
    lsn: int
    ends: dict[Partition, int]


EXPECTED_REFRESH_S = 30.0  # how often the partitions of the view's topics are listed again


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
        topics: list[str] | None = None,
        worker: str = "0",
        group: str | None = None,
        chase_interval_s: float = 0.01,
        chase_s: float = 0.5,
        publish_interval_s: float = 0.2,
    ) -> None:
        # End offsets are read through a separate admin client: on the consumer's own connection the
        # request would queue behind its long-polling fetch and take up to fetch.wait.max.ms. After a broker
        # restart a long-lived admin client can keep failing (stale leader epochs), so a failed read replaces it.
        self.view, self.alias, self.pool, self.consumer, self.es = view, alias, pool, consumer, es
        self.new_admin = new_admin
        self.admin = new_admin()
        self.slot, self.sync_index, self.interval_s = slot, sync_index, interval_s
        self.slot_observer = SlotObserver(pool, slot)  # up to every chase_interval_s, one round trip each
        self.positions: dict[Partition, int] = {}
        self.pending: deque[Pending] = deque()
        self.reached: int | None = None  # newest position fully applied
        self.applied: int | None = None  # newest position published (reached, capped by the holds)
        self.published_at = time.monotonic()  # when the published position last moved (or the worker started)
        self.holds: dict[str, int] = {}  # unresolved dead letter ("topic[partition]@offset") -> its WAL position
        self.unknown: set[Partition] = set()  # assigned partitions whose committed offset is not known yet
        self._last_observed = 0.0
        self._last_lsn = -1
        self.topics = list(topics or [])  # the view's topics: its position covers every partition of them
        self.worker = worker
        self._expected: list[str] = []
        self._expected_at = -EXPECTED_REFRESH_S
        self._observe_now = False
        self._published_reached = 0
        self._covered: set[Partition] = set()
        self.store = SyncStore(es, sync_index, view)  # the view's sync document, changed by compare-and-set
        # Partitions other workers own: their group's committed offsets say how far those are applied, so any worker
        # can publish the whole view (a token does not wait for the idle workers' next observation).
        self.group = group
        self._others: dict[Partition, int] = {}  # committed offsets of partitions not ours, as last read
        self._others_read_at = -1.0
        # After an apply the slot is observed every chase_interval_s for chase_s (the commit is confirmed on the slot
        # a few tens of milliseconds later), otherwise every interval_s.
        self.chase_interval_s, self.chase_s = chase_interval_s, chase_s
        self._chase_until = 0.0
        # A publication (and the refresh before it) at most every publish_interval_s: at 100 changes/s a refresh per
        # batch was most of Elasticsearch's cost. The first after a quiet spell goes at once (idle read-your-writes).
        self.publish_interval_s = publish_interval_s
        self._last_publish = -publish_interval_s
        # Something may have been written to the view that no refresh has made searchable yet: this worker's _bulk
        # (mark_written), another worker's, seen as its committed offsets moving, or a previous owner's of a partition
        # just assigned (on_assign).
        self._unrefreshed = True

    # holds: unresolved dead letters keep the published position below them
    def load_holds(self) -> None:
        """Reads the holds this view recorded before a restart."""
        try:
            source = self.es.get(index=self.sync_index, id=self.view)["_source"]
        except NotFoundError:
            return
        except (ApiError, TransportError) as exc:
            raise RetryableError(f"holds of {self.view} not read from {self.sync_index}: {exc}") from exc
        self.holds = held(source)

    def hold(self, coordinates: str, lsn: int | None) -> None:
        """Records an unresolved dead letter before its offset is committed. Without a position of its own
        (unparseable), it holds the view where it is now."""
        position = lsn if lsn is not None else (self.applied or self.reached or 0) + 1
        self._update(hold={F.HOLD_AT: coordinates, F.HOLD_LSN: position})

    def release(self, coordinates: str) -> bool:
        """Releases the hold of a change that is now applied (or discarded); False if it held nothing."""
        if coordinates not in self.holds:
            self.load_holds()  # another worker of the view may have recorded it since this one last read them
        if coordinates not in self.holds:
            return False
        self._update(release=coordinates)
        return True

    @property
    def cap(self) -> int | None:
        """The highest position that may be published while the holds stand."""
        return min(self.holds.values()) - 1 if self.holds else None

    def _update(
        self,
        reached: dict[str, int] | None = None,
        hold: dict[str, Any] | None = None,
        release: str | None = None,
        counts: dict[str, int] | None = None,
    ) -> None:
        """Changes the view's sync document (``sync_document``) and keeps what it now says (holds, published
        position). An outage if Elasticsearch cannot take it: a caller recording a hold waits it out before
        committing anything. A change that may raise the position (what partitions reached, a hold released) first
        makes searchable what was written before it."""
        if reached or release is not None:
            self.refresh_view()
        expected = self.expected()
        new = self.store.change(
            lambda current: sync_document(
                current, self.view, self.alias, expected, reached or {}, hold, release, self.worker, counts
            )
        )
        self.holds = held(new)
        applied = new.get(F.APPLIED_LSN_INT)
        if applied is not None and (self.applied is None or int(applied) > self.applied):
            self.applied = int(applied)
            self.published_at = time.monotonic()
            metrics.WATERMARK_LSN.labels(self.view).set(self.applied)
            metrics.WATERMARK_AT.labels(self.view).set_to_current_time()

    def mark_written(self) -> None:
        """This worker's _bulk was acknowledged: searchable only after the next refresh."""
        self._unrefreshed = True

    def refresh_view(self) -> None:
        """Refreshes the view's index if anything may have been written since the last refresh: every write
        acknowledged before a refresh starts is searchable once it answers."""
        if not self._unrefreshed:
            return
        self._unrefreshed = False
        try:
            self.es.indices.refresh(index=self.alias)
        except (ApiError, TransportError) as exc:
            self._unrefreshed = True
            raise RetryableError(f"{self.alias} not refreshed: {exc}") from exc
        metrics.REFRESHES.labels(self.view).inc()

    def expected(self) -> list[str]:
        """Every partition of the view's topics (listed again every EXPECTED_REFRESH_S: partitions can be added)."""
        now = time.monotonic()
        if self.topics and now - self._expected_at >= EXPECTED_REFRESH_S:
            try:
                metadata = self.admin.list_topics(timeout=5)
                found = [
                    partition_key((topic, p))
                    for topic in self.topics
                    if topic in metadata.topics
                    for p in metadata.topics[topic].partitions
                ]
                if found:
                    self._expected, self._expected_at = sorted(found), now
            except KafkaException as exc:
                log.warning("partitions of the view's topics not listed", error=str(exc)[:200], view=self.view)
        return self._expected

    # positions: next offset to read, per partition, for records applied
    def on_assign(self, partitions: list[TopicPartition]) -> None:
        """Learns where the newly assigned partitions stand. Until that is known (Kafka not answering during a
        rebalance), nothing is published: an unknown partition could hold unapplied changes."""
        self.unknown |= {(tp.topic, tp.partition) for tp in partitions}
        # Whoever applied these partitions before (a worker that crashed, or held them before a rebalance) may have
        # written what no refresh has made searchable yet.
        self._unrefreshed = True
        self.pending.clear()  # observed before these partitions were ours: their ends were not read
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

    def mark_applied(self, offsets: dict[Partition, int]) -> None:
        """Offsets up to which this worker has applied every record (or dead-lettered it with a hold); the slot is
        observed again at the next tick (publish on apply: a read-your-writes token waits for this, not for the
        next observation interval, nor for the offsets' commit).

        Only partitions still assigned count: a batch fetched before a rebalance can hold records of a partition
        revoked while it was gathered. Recorded, such a partition's position would stay where this batch left it
        (this worker reads no more of it), below the end offsets of every later observation, and the worker would
        never publish again; its new owner applies those records and commits them."""
        for partition, offset in offsets.items():
            if partition in self.positions:
                self.positions[partition] = offset
        self._observe_now = True
        self._chase_until = time.monotonic() + self.chase_s

    def end_offsets(self, every: bool = False) -> dict[Partition, int]:
        """Current end offset of every assigned partition (``every``: of every partition of the view's topics, when
        they are known), in one request."""
        wanted = set(self.positions)
        if every and self.group is not None:
            wanted |= {partition_of(key) for key in self.expected()}
        if not wanted:
            return {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        try:
            futures = self.admin.list_offsets({TopicPartition(t, p): latest for t, p in wanted}, request_timeout=5)
            return {(tp.topic, tp.partition): int(f.result().offset) for tp, f in futures.items()}
        except KafkaException:
            self.admin = self.new_admin()
            raise

    def lag(self) -> dict[Partition, int]:
        """Records not yet applied per partition."""
        return {p: max(0, end - self.positions.get(p, 0)) for p, end in self.end_offsets().items()}

    def due_in(self) -> float:
        """Seconds until the next observation of the slot is due (the runner polls Kafka no longer than that, so
        the slot is observed at its interval and not only when a poll happens to return). With no partition
        assigned (before the first assignment, or the group lost during a Kafka outage) nothing is observed, so
        nothing is due: a poll then waits its full timeout instead of spinning."""
        if not self.positions:
            return self.interval_s
        if self._observe_now:
            return 0.0
        now = time.monotonic()
        due = self._last_observed + self._interval() - now
        if self._publish_waiting():
            due = min(due, self._last_publish + self.publish_interval_s - now)
        return max(0.0, due)

    def _publish_waiting(self) -> bool:
        return self.reached is not None and self.reached > 0 and self.reached > self._published_reached

    def _interval(self) -> float:
        return self.chase_interval_s if time.monotonic() < self._chase_until else self.interval_s

    def tick(self, events: int, dead_letters: int) -> None:
        """Observes the slot at most every ``interval_s`` and publishes what became fully applied."""
        now = time.monotonic()
        if self.unknown:
            self._resolve_unknown(timeout=1)
            if self.unknown:
                return
        if (self._observe_now or now - self._last_observed >= self._interval()) and self.positions:
            self._last_observed, self._observe_now = now, False
            self._observe()
        while self.pending and self._applied_through(self.pending[0].ends):
            done = self.pending.popleft()
            self.reached = done.lsn if self.reached is None else max(self.reached, done.lsn)
            # Only the partitions whose ends were read with that observation have reached it (one assigned since
            # then has not been checked against it).
            self._covered = set(done.ends)
        if self.reached is None:
            return
        # What this worker's partitions reached is published once per new position (the view's position, capped by
        # the holds, is worked out in the sync document), at most every publish_interval_s.
        if self._publish_waiting() and now - self._last_publish >= self.publish_interval_s:
            self._publish(self.reached, events, dead_letters)

    def _applied_through(self, ends: dict[Partition, int]) -> bool:
        """Whether every record before ``ends`` is applied: on this worker's partitions by what it applied, on the
        others by their group's committed offsets (a worker commits what it has applied), read again at most every
        ``interval_s`` (or chase interval) while they are behind."""
        others = {p: end for p, end in ends.items() if p not in self.positions}
        if any(self.positions[p] < end for p, end in ends.items() if p in self.positions):
            return False
        # No committed offset counts as 0: an empty partition is applied through, one with records is not.
        if all(self._others.get(p, 0) >= end for p, end in others.items()):
            return True
        now = time.monotonic()
        if now - self._others_read_at < self._interval():
            return False
        self._others_read_at = now
        for p, offset in self._group_offsets(list(others)).items():
            if offset > self._others.get(p, 0):
                self._unrefreshed = True  # another worker applied more: its writes may not be searchable yet
            self._others[p] = offset
        return all(self._others.get(p, 0) >= end for p, end in others.items())

    def _group_offsets(self, partitions: list[Partition]) -> dict[Partition, int]:
        """The view's consumer group's committed offsets (no offset: not in the answer).

        Asked through the worker's own consumer (a member of that group), not the admin client: librdkafka's admin
        ListConsumerGroupOffsets dereferences a missing consumer group when a broker answers NOT_COORDINATOR (the
        group's coordinator moving while a broker restarts), a segmentation fault in one of its threads, which block
        signals, so the process dies without a trace. The consumer's own offset fetch handles that error by finding
        the coordinator again."""
        if not partitions or self.group is None:
            return {}
        answer = self.consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=5)
        return {(tp.topic, tp.partition): int(tp.offset) for tp in answer if tp.offset >= 0 and tp.error is None}

    def _observe(self) -> None:
        lsn = self.slot_observer.confirmed_flush()
        if lsn is None or lsn <= self._last_lsn:
            return
        self._last_lsn = lsn
        self.pending.append(Pending(lsn, self.end_offsets(every=True)))

    def _publish(self, lsn: int, events: int, dead_letters: int) -> None:
        """Publishes that the partitions covered by the observation have reached ``lsn``; the view's position is the
        lowest over all partitions (``sync_document``), after a refresh if one is due (``_update``)."""
        others = {p: o for p, o in self._others.items() if p in self._covered and p not in self.positions}
        reached = {partition_key(p): lsn for p in self._covered if p in self.positions or p in others}
        self._last_publish = time.monotonic()
        self._update(reached=reached, counts={F.EVENTS: events, F.DEAD_LETTERS: dead_letters})
        self._published_reached = lsn
