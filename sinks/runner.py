"""The shared sink runner: poll -> batch -> roots -> rebuild -> versioned _bulk -> commit offsets.

It knows no view. Failures are decided here, not in leaf code:
- RetryableError (master or Elasticsearch unavailable): retried with capped backoff for as long as it
  takes; nothing is dead-lettered for an outage.
- anything else (poison event, rejected document, a bug): the batch is retried a bounded number of
  times, then split in halves until the events that fail on their own are found; only those go to the
  dead-letter topic with their error (once per view, even when replayed), and hold the view's published
  position until they are resolved; the view keeps moving.
While it waits, the worker keeps polling with its partitions paused, so a long outage does not cost it its
place in the consumer group. Offsets are committed only after Elasticsearch acknowledged the batch (or it was
dead-lettered); a commit that fails (a broker restarting) leaves the batch to be applied again, harmlessly.
The retry policies themselves (backoff, bounds, stopping) are in sinks/retries.py.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import structlog
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError
from psycopg_pool import ConnectionPool
from tenacity import RetryCallState

from farmacy.lsn import lsn_text
from sinks import metrics
from sinks.errors import DeployError, PoisonEventError, RequestTooLarge, RetryableError
from sinks.events import ChangeEvent, coordinates, dict_headers, parse
from sinks.pipeline import RootRefs, bulk_operations, route, send_bulk
from sinks.rebuild import rebuild
from sinks.retries import RetryPolicy, Stopping, failure
from sinks.view import View
from sinks.watermark import Watermark

log = structlog.get_logger("sink")
T = TypeVar("T")

PROGRESS_EVERY_S = 5.0
STAGES = ("produced", "consumed", "applied")  # metrics.EVENT_AGE: applied means handled (applied or dead-lettered)
INDEX_CHECK_EVERY_S = 10.0


@dataclass
class RunnerConfig:
    batch_size: int = 500
    poll_timeout_s: float = 0.05  # how long a batch gathers records after its first
    idle_poll_s: float = 1.0  # the longest a quiet worker sleeps in one poll (less when the watermark is due)
    max_retries: int = 5
    retry_backoff_s: float = 0.2
    dead_letter_topic: str = ""
    redrive_topic: str = ""
    stall_after_s: float = 10.0
    bulk_max_bytes: int = 4 << 20


@dataclass
class RunnerState:
    applied_lsn: int | None = None
    last_batch_at: float | None = None
    events: int = 0
    dead_letters: int = 0
    degraded: str | None = None  # set while retrying an outage
    deploy_error: bool = False  # the outage is a deploy error (index missing, mapping behind, schema)
    busy_since: float | None = None  # monotonic time the batch in flight started applying


class Runner:
    def __init__(
        self,
        view: View,
        topics: list[str],
        consumer: Consumer,
        producer: Producer,
        es: Elasticsearch,
        pool: ConnectionPool,
        config: RunnerConfig,
        watermark: Watermark | None = None,
    ) -> None:
        self.view = view
        self.topics = topics
        self.consumer = consumer
        self.producer = producer
        self.es = es
        self.pool = pool
        self.config = config
        self.watermark = watermark
        self.state = RunnerState()
        self.stopping = threading.Event()
        self.retries = RetryPolicy(self.stopping, config.retry_backoff_s, config.max_retries, wait=self._wait_polling)
        self.dead_lettered: set[str] = set()  # source coordinates this view has dead-lettered (bootstrap loads them)
        self._waiting = False  # a retry is waiting with the partitions paused
        self._resume_pending = False  # resuming after a wait failed; tried again before the next batch
        self._index_checked_until = 0.0  # the alias's mapping version is checked again after this
        self.log = log.bind(view=view.name)

    # -- loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self.log.info("sink started", topics=self.topics, index=self.view.index_name)
        next_progress = time.monotonic() + PROGRESS_EVERY_S
        progress_events = 0
        try:
            while not self.stopping.is_set():
                if self._resume_pending:
                    self._resume_all()
                records = [m for m in self._poll_batch() if self._usable(m)]
                if records:
                    self.handle(records)
                    next_offsets = _next_offsets(records)
                    if self.watermark is not None:
                        # Applied (or dead-lettered and held) is what the view's position stands for: it is
                        # published before the commit round trip, which only decides where a restart reads from.
                        self.watermark.mark_applied(next_offsets)
                        self._tick_watermark()
                    self._commit(records, next_offsets)
                self._tick_watermark()
                if time.monotonic() >= next_progress:
                    self._report_progress(self.state.events - progress_events)
                    progress_events = self.state.events
                    next_progress = time.monotonic() + PROGRESS_EVERY_S
        finally:
            self.consumer.close()
            self.log.info("sink stopped")

    def _poll_batch(self) -> list[Message]:
        """Waits for the first record (returning at once when one arrives, or when the watermark is due), then
        gathers more for up to ``poll_timeout_s``: a quiet worker sleeps in one long poll instead of waking every
        ``poll_timeout_s``, and a busy one still takes its records in batches."""
        wait = self.config.idle_poll_s
        if self.watermark is not None:
            wait = min(wait, self.watermark.due_in())
        first = self.consumer.poll(wait)
        if first is None:
            return []
        if self.config.batch_size <= 1:
            return [first]
        return [first, *self.consumer.consume(self.config.batch_size - 1, self.config.poll_timeout_s)]

    def stop(self) -> None:
        self.stopping.set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Eager rebalancing: every rebalance takes all partitions back and hands out the whole assignment, and each
        # worker reads its partitions from their committed offsets again (a batch whose commit the group refused is
        # read again by whoever owns its partition next).
        if self.watermark is not None:
            self.watermark.on_assign(partitions)  # never raises: unknown positions only hold the watermark
        consumer.assign(partitions)
        # A partition's pause outlives a rebalance: assigned while a retry waits, it waits too; otherwise it runs.
        if self._waiting:
            consumer.pause(partitions)
        else:
            consumer.resume(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.watermark is not None:
            self.watermark.on_revoke(partitions)

    def _usable(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return True
        if err.code() != KafkaError._PARTITION_EOF:
            self.log.warning("consumer error", error=str(err))
        return False

    # -- one batch ------------------------------------------------------------------------------
    def handle(self, records: list[Message]) -> None:
        """Applies a batch of records; returns when every record is applied or dead-lettered."""
        consumed = time.time()
        events: list[tuple[Message, ChangeEvent]] = []
        for msg in records:
            origin = self._origin(msg)
            if origin is None:  # an operator's discard of a dead letter: nothing to apply
                continue
            kind, produced_ms = msg.timestamp()
            try:
                event = parse(*origin, msg.key(), msg.value(), produced_ms if kind != TIMESTAMP_NOT_AVAILABLE else None)
            except PoisonEventError as exc:
                self._dead_letter(msg, origin, None, exc)
                continue
            try:
                RootRefs().add(self.view, event)  # a key that names no root is poison on its own
                events.append((msg, event))
            except PoisonEventError as exc:
                self._dead_letter(msg, origin, event.lsn, exc)
        if not events:
            return
        for _, ev in events:
            metrics.EVENTS.labels(self.view.name, ev.table, ev.op).inc()
        self.state.events += len(events)
        self._apply_or_isolate(events)
        self._observe_ages([e for _, e in events], consumed)

    def _observe_ages(self, events: list[ChangeEvent], consumed: float) -> None:
        """How old each change was when it was produced, consumed and applied (metrics.EVENT_AGE)."""
        applied = time.time()
        produced_h, consumed_h, applied_h = (metrics.EVENT_AGE.labels(self.view.name, s) for s in STAGES)
        for ev in events:
            if ev.committed_ms is None:
                continue
            at = ev.committed_ms / 1000
            if ev.produced_ms is not None:
                produced_h.observe(max(0.0, ev.produced_ms / 1000 - at))
            consumed_h.observe(max(0.0, consumed - at))
            applied_h.observe(max(0.0, applied - at))

    def _apply_or_isolate(self, events: list[tuple[Message, ChangeEvent]], top: bool = True) -> None:
        """Applies the events; when they cannot be, splits them in halves until the ones that fail on their own
        are found, and dead-letters only those. The whole batch and each single event get the bounded retries;
        the halves in between one try each (outages are waited out at every level), so isolating one bad event
        in a batch of n costs about log2(n) extra tries, not n."""
        error = self._apply_with_retries([e for _, e in events], bounded_retries=top or len(events) == 1)
        if error is None:
            # Applied: whatever hold this change put on the view (a re-drive, or a replay of an event that failed
            # before) is released.
            if self.watermark is not None and self.watermark.holds:
                wm = self.watermark
                for _, ev in events:
                    if ev.coordinates in wm.holds and self._outage_safe(wm.release, ev.coordinates):
                        self.log.info("held change applied; its hold is released", at=ev.coordinates)
            return
        if len(events) == 1:
            msg, ev = events[0]
            self._dead_letter(msg, (ev.topic, ev.partition, ev.offset), ev.lsn, error)
            return
        self.log.warning("batch keeps failing; splitting it to find the failing events", events=len(events))
        half = len(events) // 2
        self._apply_or_isolate(events[:half], top=False)
        self._apply_or_isolate(events[half:], top=False)

    def _origin(self, msg: Message) -> tuple[str, int, int] | None:
        """Where the record's change came from: its own coordinates, or for a re-driven dead letter the coordinates
        it was first read at. None for an operator's discard of a dead letter (its hold is released here)."""
        coords = _coordinates(msg)
        if coords[0] != self.config.redrive_topic:
            return coords
        headers = dict_headers(msg)
        try:
            origin = (headers["dlq.topic"], int(headers["dlq.partition"]), int(headers["dlq.offset"]))
        except (KeyError, ValueError):
            self.log.error("re-drive record without its origin; skipped", at=coordinates(*coords))
            return None
        if headers.get("redrive.discard") == "true":
            if self.watermark is not None and self._outage_safe(self.watermark.release, coordinates(*origin)):
                self.log.warning("dead letter discarded by an operator; its hold is released", at=coordinates(*origin))
            return None
        return origin

    def _apply_with_retries(self, events: list[ChangeEvent], bounded_retries: bool = True) -> Exception | None:
        """Applies the events; returns None, or the error that stopped them.

        Outages are retried for as long as they last. A PoisonEventError is returned at once: the same
        input fails the same way. Anything else (a bug, an unexpected answer) gets bounded retries.
        """
        through_outages = self.retries.through_outages(before_sleep=self._on_outage)
        bounded = self.retries.bounded(after=partial(self._on_failure, events), retries=None if bounded_retries else 0)
        try:
            # Outages are retried inside the bounded retries, so they never count towards the bound.
            bounded(through_outages, self._apply, events)
        except PoisonEventError as exc:
            self.log.warning("poison in batch", events=len(events), first=events[0].coordinates, error=str(exc)[:300])
            return exc
        except Stopping:
            raise
        except Exception as exc:
            return exc
        if self.state.degraded:
            self.log.info("recovered", after=self.state.degraded)
            metrics.DEGRADED.labels(self.view.name).set(0)
        self.state.degraded = None
        self.state.deploy_error = False
        return None

    def _on_outage(self, attempt: RetryCallState) -> None:
        error = failure(attempt)
        self.state.degraded = str(error)[:300]
        self.state.deploy_error = isinstance(error, DeployError)
        metrics.DEGRADED.labels(self.view.name).set(1)
        metrics.RETRIES.labels(self.view.name, "outage").inc()
        self.log.warning(
            "dependency unavailable; retrying", error=self.state.degraded, in_s=round(attempt.upcoming_sleep, 2)
        )

    def _on_failure(self, events: list[ChangeEvent], attempt: RetryCallState) -> None:
        error = failure(attempt)
        metrics.RETRIES.labels(self.view.name, "failure").inc()
        self.log.warning(
            "batch failed",
            attempt=attempt.attempt_number,
            events=len(events),
            first=events[0].coordinates,
            error=f"{type(error).__name__}: {str(error)[:300]}",
        )

    def _apply(self, events: list[ChangeEvent]) -> None:
        self.state.busy_since = time.monotonic()
        try:
            self._apply_now(events)
        finally:
            self.state.busy_since = None

    def _apply_now(self, events: list[ChangeEvent]) -> None:
        refs = route(self.view, events)
        if refs.empty():
            return
        self._check_index_version()
        t0 = time.perf_counter()
        rebuilt = rebuild(self.pool, self.view, refs, raw=True)  # documents pass through as JSON text
        t1 = time.perf_counter()
        metrics.REBUILD_SECONDS.labels(self.view.name).observe(t1 - t0)
        ops = bulk_operations(self.view.alias, rebuilt)
        if ops:
            try:
                outcome = send_bulk(self.es, ops, self.config.bulk_max_bytes)
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
            if self.watermark is not None:
                self.watermark.mark_written()  # searchable after the refresh before the next publication
            metrics.BULK_SECONDS.labels(self.view.name).observe(time.perf_counter() - t1)
            metrics.DOCS.labels(self.view.name, "applied").inc(outcome.applied)
            metrics.DOCS.labels(self.view.name, "stale").inc(outcome.stale)
            if outcome.deploy:
                raise DeployError(f"index not as deployed: {dict(list(outcome.deploy.items())[:3])}")
            if outcome.retryable:
                raise RetryableError(f"bulk items to retry: {dict(list(outcome.retryable.items())[:3])}")
            if outcome.rejected:
                metrics.DOCS.labels(self.view.name, "rejected").inc(len(outcome.rejected))
                raise PoisonEventError(f"documents rejected: {dict(list(outcome.rejected.items())[:3])}")
        self.state.applied_lsn = max(self.state.applied_lsn or 0, rebuilt.lsn)
        self.state.last_batch_at = time.time()
        metrics.BATCHES.labels(self.view.name).inc()
        metrics.APPLIED_LSN.labels(self.view.name).set(self.state.applied_lsn)
        metrics.LAST_APPLIED.labels(self.view.name).set(self.state.last_batch_at)
        self.log.info(
            "batch applied",
            events=len(events),
            roots=len(rebuilt.docs) + len(rebuilt.deleted),
            indexed=len(rebuilt.docs),
            deleted=len(rebuilt.deleted),
            lsn=lsn_text(rebuilt.lsn),
            index=self.view.alias,
            first=events[0].coordinates,
            last=events[-1].coordinates,
            rebuild_ms=round((t1 - t0) * 1000, 1),
            total_ms=round((time.perf_counter() - t0) * 1000, 1),
        )

    # -- dead letters and offsets ---------------------------------------------------------------
    def _dead_letter(self, msg: Message, origin: tuple[str, int, int], lsn: int | None, error: Exception) -> None:
        at = coordinates(*origin)
        redriven = _coordinates(msg)[0] == self.config.redrive_topic
        if at in self.dead_lettered and not redriven:
            # Met again by a replay: recorded before (and held, unless an operator resolved it). Once per view.
            self.log.info("event dead-lettered before; not recorded again", at=at)
            return
        # The hold is recorded before the offset is committed: the published position must not pass this change.
        if self.watermark is not None:
            self._outage_safe(self.watermark.hold, at, lsn)
        headers: list[tuple[str, str | bytes | None]] = [
            ("dlq.view", self.view.name),
            ("dlq.topic", origin[0]),
            ("dlq.partition", str(origin[1])),
            ("dlq.offset", str(origin[2])),
            ("dlq.lsn", str(lsn) if lsn is not None else ""),
            ("dlq.error.class", type(error).__name__),
            ("dlq.error", str(error)[:2000]),
            ("dlq.failed_at", datetime.now(UTC).isoformat()),
        ]
        # Counted as dead-lettered only once Kafka confirmed the delivery: a lost dead letter is a lost event.
        self.retries.until_delivered(before_sleep=self._on_undelivered)(self._send_dead_letter, msg, headers)
        self.dead_lettered.add(at)
        self.state.dead_letters += 1
        metrics.DEAD_LETTERS.labels(self.view.name).inc()
        self.log.error(
            "event dead-lettered",
            at=at,
            lsn=lsn_text(lsn) if lsn is not None else None,
            error=f"{type(error).__name__}: {str(error)[:300]}",
            dead_letter_topic=self.config.dead_letter_topic,
        )

    def _send_dead_letter(self, msg: Message, headers: list[tuple[str, str | bytes | None]]) -> str | None:
        """Produces the dead letter and waits for its delivery report; returns None once delivered, else why not.

        A record too large to copy with the dead-letter headers goes without its payload (its key and coordinates
        are what a re-drive needs: roots are rebuilt from the master)."""
        value = msg.value()
        for attempt in ("whole", "without payload"):
            reports: list[KafkaError | None] = []
            try:
                self.producer.produce(
                    self.config.dead_letter_topic,
                    key=msg.key(),
                    value=value,
                    headers=headers,
                    on_delivery=partial(_report, reports),
                )
            except (BufferError, KafkaException) as exc:
                if attempt == "whole" and _too_large(exc):
                    value, headers = None, [*headers, ("dlq.payload", "dropped: too large to dead-letter")]
                    continue
                return f"{type(exc).__name__}: {exc}"
            self.producer.flush(30)
            if not reports:
                return "no delivery report within 30s"
            if reports[0] is None:
                return None
            if attempt == "whole" and _too_large(KafkaException(reports[0])):
                value, headers = None, [*headers, ("dlq.payload", "dropped: too large to dead-letter")]
                continue
            return str(reports[0])
        return "not delivered"

    def _on_undelivered(self, attempt: RetryCallState) -> None:
        assert attempt.outcome is not None
        self.log.warning(
            "dead letter not delivered; retrying", topic=self.config.dead_letter_topic, error=attempt.outcome.result()
        )

    def _commit(self, records: list[Message], next_offsets: dict[tuple[str, int], int] | None = None) -> None:
        """Commits ``next_offsets`` (``_next_offsets(records)`` unless given) for the batch ``records``."""
        first: dict[tuple[str, int], int] = {}
        for m in records:
            topic, partition, offset = _coordinates(m)
            first[(topic, partition)] = min(first.get((topic, partition), offset), offset)
        if next_offsets is None:
            next_offsets = _next_offsets(records)
        offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
        try:
            self.retries.commit(before_sleep=self._on_commit_retry)(
                self.consumer.commit, offsets=offsets, asynchronous=False
            )
        except KafkaException as exc:
            # The group moved on (rebalance, coordinator gone). With cooperative rebalancing this worker may keep
            # the partitions, and its fetch position is already past the batch: it reads the batch again from
            # here and commits it then (re-applying changes nothing: versioned rebuilds). A partition that went
            # to another worker is read again from the last committed offset by that worker.
            self.log.warning("offsets not committed; the batch will be applied again", error=str(exc)[:300])
            for (topic, partition), offset in first.items():
                with contextlib.suppress(KafkaException):  # not this worker's partition any more
                    self.consumer.seek(TopicPartition(topic, partition, offset))
            return

    def _check_index_version(self) -> None:
        """A deploy that bumped the view's mapping version must not write into the index of the old mapping: that
        is a deploy error (paused until `farmacy rebuild VIEW` swaps the alias), not a reason to dead-letter."""
        now = time.monotonic()
        if now < self._index_checked_until:
            return
        try:
            mappings = self.es.indices.get_mapping(index=self.view.alias).body
        except NotFoundError as exc:
            raise DeployError(f"index or alias {self.view.alias!r} is missing") from exc
        except (TransportError, ApiError) as exc:
            raise RetryableError(f"elasticsearch unavailable: {exc}") from exc
        for index, body in mappings.items():
            found = int(body.get("mappings", {}).get("_meta", {}).get("index_version", 0))
            if found < self.view.index_version:
                raise DeployError(
                    f"alias {self.view.alias!r} points at {index} (mapping version {found}); this code writes version "
                    f"{self.view.index_version}: run `farmacy rebuild {self.view.name}`"
                )
        self._index_checked_until = now + INDEX_CHECK_EVERY_S

    def _on_commit_retry(self, attempt: RetryCallState) -> None:
        self.log.warning("offset commit failed; retrying", error=str(failure(attempt))[:300])

    def _wait_polling(self, seconds: float) -> None:
        """Waits (for a retry) while serving the consumer: partitions paused, polling, so the group keeps this
        member. A record that still arrives (a partition assigned meanwhile) is put back by seeking to it."""
        deadline = time.monotonic() + seconds
        self._waiting = True
        try:
            self.consumer.pause(self.consumer.assignment())
        except KafkaException as exc:
            self.log.warning("could not pause partitions", error=str(exc)[:200])
        try:
            while not self.stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                try:
                    msg = self.consumer.poll(min(left, 0.5))
                    if msg is not None and msg.error() is None:
                        tp = TopicPartition(*_coordinates(msg))
                        self.consumer.seek(tp)
                        self.consumer.pause([tp])
                except KafkaException as exc:  # a rebalance callback's error, the broker away: keep waiting
                    self.log.warning("consumer error while waiting", error=str(exc)[:200])
                    self.stopping.wait(min(max(deadline - time.monotonic(), 0), 0.5))
        finally:
            self._waiting = False
            self._resume_all()

    def _resume_all(self) -> None:
        try:
            self.consumer.resume(self.consumer.assignment())
            self._resume_pending = False
        except KafkaException as exc:
            self._resume_pending = True  # tried again before the next batch
            self.log.warning("could not resume partitions", error=str(exc)[:200])

    def _outage_safe(self, action: Callable[..., T], *args: Any) -> T:
        """Runs a bookkeeping step (a hold) that must happen before the offsets move, waiting out outages."""
        result: T = self.retries.through_outages(before_sleep=self._on_outage)(action, *args)
        return result

    def _tick_watermark(self) -> None:
        if self.watermark is None:
            return
        try:
            self.watermark.tick(self.state.events, self.state.dead_letters)
        except Exception as exc:
            self.log.warning("watermark not published", error=f"{type(exc).__name__}: {str(exc)[:200]}")

    def _report_progress(self, recent_events: int) -> None:
        """While behind (a backfill, a replay, a burst), log how far there is still to go."""
        if self.watermark is None:
            return
        try:
            lag = self.watermark.lag()
        except Exception:
            return
        for (topic, partition), behind in lag.items():
            metrics.LAG.labels(self.view.name, topic, str(partition)).set(behind)
        behind = sum(lag.values())
        if behind > self.config.batch_size:  # a backfill, replay or burst, not the usual in-flight few
            rate = recent_events / PROGRESS_EVERY_S
            eta = f"{behind / rate:.0f}s" if rate else "unknown"
            self.log.info(
                "catching up",
                records_behind=behind,
                events_per_s=round(rate, 1),
                eta=eta,
                applied_lsn=lsn_text(self.watermark.applied) if self.watermark.applied else None,
            )

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """ok, or degraded with the reasons: an outage or deploy error being waited out, a batch in flight for too
        long (a hanging dependency), a published position that has stopped moving, dead letters holding it."""
        problems = []
        if self.state.degraded:
            problems.append(("deploy error: " if self.state.deploy_error else "outage: ") + self.state.degraded)
        now = time.monotonic()
        if self.state.busy_since is not None and now - self.state.busy_since > self.config.stall_after_s:
            problems.append(f"batch in flight for {now - self.state.busy_since:.0f}s (a dependency is not answering)")
        held: dict[str, int] = {}
        if self.watermark is not None:
            frozen = now - self.watermark.published_at
            if frozen > self.config.stall_after_s:
                problems.append(f"published position has not moved for {frozen:.0f}s")
            held = dict(self.watermark.holds)
            cap = self.watermark.cap
            if cap is not None and self.watermark.reached is not None and self.watermark.reached > cap:
                problems.append(f"{len(held)} unresolved dead letter(s) hold the published position at {lsn_text(cap)}")
        return {
            "status": "degraded" if problems else "ok",
            "problems": problems,
            "view": self.view.name,
            "index": self.view.alias,
            "applied_lsn": lsn_text(self.state.applied_lsn) if self.state.applied_lsn else None,
            "published_lsn": lsn_text(self.watermark.applied) if self.watermark and self.watermark.applied else None,
            "last_batch_at": self.state.last_batch_at,
            "events": self.state.events,
            "dead_letters": self.state.dead_letters,
            "holds": held,
            "degraded": self.state.degraded,
        }


def _report(reports: list[KafkaError | None], err: KafkaError | None, _msg: object) -> None:
    reports.append(err)


def _too_large(exc: BaseException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() == KafkaError.MSG_SIZE_TOO_LARGE


def _coordinates(msg: Message) -> tuple[str, int, int]:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    assert topic is not None and partition is not None and offset is not None, "consumed record without position"
    return topic, partition, offset


def _next_offsets(records: list[Message]) -> dict[tuple[str, int], int]:
    """Per partition, the offset after the last of the records (what a commit of them stores)."""
    last: dict[tuple[str, int], int] = {}
    for m in records:
        topic, partition, offset = _coordinates(m)
        last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
    return {tp: offset + 1 for tp, offset in last.items()}
