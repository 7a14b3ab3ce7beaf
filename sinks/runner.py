"""The shared sink runner: poll -> batch -> roots -> rebuild -> versioned _bulk -> commit offsets.

It knows no view. Failures are decided here, not in leaf code:
- RetryableError (master or Elasticsearch unavailable): retried with capped backoff for as long as it
  takes; nothing is dead-lettered for an outage.
- anything else (poison event, rejected document, a bug): the batch is retried a bounded number of
  times, then split in halves until the events that fail on their own are found; only those go to the
  dead-letter topic with their error (once per view, even when replayed), and hold the view's published
  position until they are resolved; the view keeps moving.
While it waits, the worker keeps polling with its partitions paused, so a long outage does not cost it its
place in the consumer group (sinks/pausing.py). Offsets are committed only after Elasticsearch acknowledged the
batch (or it was dead-lettered); a commit that fails (a broker restarting) leaves the batch to be applied again,
harmlessly (sinks/offsets.py).
The retry policies themselves (backoff, bounds, stopping) are in sinks/retries.py; the runner composes the steps
of its own modules: applying a batch (sinks/apply.py), the index-version check (sinks/index_version.py), dead
letters (sinks/dead_letters.py), offsets (sinks/offsets.py), progress (sinks/progress.py) and the health report
(sinks/health.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import structlog
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, Message, Producer, TopicPartition
from elasticsearch import Elasticsearch
from psycopg_pool import ConnectionPool
from tenacity import RetryCallState

from farmacy.lsn import lsn_text
from sinks import metrics, offsets
from sinks.apply import apply_batch
from sinks.assignment import Assignment
from sinks.control import Control
from sinks.dead_letters import dead_letter_headers, deliver
from sinks.errors import DeployError, PoisonEventError
from sinks.events import ChangeEvent, coordinates, dict_headers, parse
from sinks.health import RunnerState, health_report
from sinks.index_version import IndexVersionCheck
from sinks.pausing import PausedWait
from sinks.pipeline import RootRefs
from sinks.progress import Progress, observe_ages
from sinks.replay_marks import ReplayMarks
from sinks.retries import RetryPolicy, Stopping, failure
from sinks.view import View
from sinks.watermark import Watermark

log = structlog.get_logger("sink")
T = TypeVar("T")


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
        control: Control | None = None,
    ) -> None:
        self.view = view
        self.topics = topics
        self.consumer = consumer
        self.producer = producer
        self.es = es
        self.pool = pool
        self.config = config
        self.watermark = watermark
        self.control = control  # operator requests the worker carries out between batches (sinks/control.py)
        self.state = RunnerState()
        self.stopping = threading.Event()
        self.retries = RetryPolicy(self.stopping, config.retry_backoff_s, config.max_retries, wait=self._wait_polling)
        self.dead_lettered: set[str] = set()  # source coordinates this view has dead-lettered (bootstrap loads them)
        self.paused = PausedWait()
        self.index_check = IndexVersionCheck()
        self.replays = ReplayMarks()
        self.log = log.bind(view=view.name)
        self.assignment = Assignment(self.log)  # a batch keeps only the records of partitions assigned now

    # -- loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        self.consumer.subscribe(
            self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_revoke
        )
        self.log.info("sink started", topics=self.topics, index=self.view.index_name)
        progress = Progress(self.view.name, self.config.batch_size, self.log)
        try:
            while not self.stopping.is_set():
                if self.paused.resume_pending:
                    self._resume_all()
                if self.control is not None:
                    self.control.step(self.consumer, self.replays)
                    if self.control.resumed:  # after an alias swap: which mapping the index takes is checked again
                        self.control.resumed = False
                        self.index_check.forget()
                records = self.assignment.keep([m for m in self._poll_batch() if self._usable(m)])
                if records:
                    self.handle(records)
                    next_offsets = offsets.next_offsets(records)
                    if self.watermark is not None:
                        # Applied (or dead-lettered and held) is what the view's position stands for: it is
                        # published before the commit round trip, which only decides where a restart reads from.
                        self.watermark.mark_applied(next_offsets)
                        self._tick_watermark()
                    self._commit(records, next_offsets)
                self._tick_watermark()
                progress.tick(self.watermark, self.state.events)
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
        self.assignment.add(partitions)
        if self.watermark is not None:
            self.watermark.on_assign(partitions)  # never raises: unknown positions only hold the watermark
        self.replays.learn(consumer, partitions, timeout=10)  # never raises: an unknown mark counts as a replay
        held = self.control is not None and self.control.on_assign(partitions)  # an operator's request pending
        consumer.assign(partitions)
        # A partition's pause outlives a rebalance: assigned while a retry waits, it waits too (or while an operator's
        # request holds it, until the next step carries that out); otherwise it runs.
        if self.paused.waiting or held:
            consumer.pause(partitions)
        else:
            consumer.resume(partitions)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.assignment.remove(partitions)
        if self.watermark is not None:
            self.watermark.on_revoke(partitions)
        self.replays.forget(partitions)
        if self.control is not None:
            self.control.on_revoke(partitions)

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
        self.replays.retry(self.consumer, timeout=2)  # marks not read at assignment (Kafka busy then)
        for _, ev in events:
            metrics.EVENTS.labels(self.view.name, ev.table, ev.op).inc()
        self.state.events += len(events)
        self._apply_or_isolate(events)
        observe_ages(self.view.name, [e for _, e in events], consumed)

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
        coords = offsets.record_position(msg)
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
        wm = self.watermark
        done = apply_batch(
            self.view,
            self.pool,
            self.es,
            events,
            self.config.bulk_max_bytes,
            self._check_index_version,
            wm.mark_written if wm is not None else None,
            self.replays.replaying,
        )
        if done is None:
            return
        self.state.applied_lsn = max(self.state.applied_lsn or 0, done.lsn)
        self.state.last_batch_at = time.time()
        metrics.BATCHES.labels(self.view.name).inc()
        metrics.APPLIED_LSN.labels(self.view.name).set(self.state.applied_lsn)
        metrics.LAST_APPLIED.labels(self.view.name).set(self.state.last_batch_at)
        self.log.info(
            "batch applied",
            events=len(events),
            roots=done.indexed + done.deleted,
            indexed=done.indexed,
            deleted=done.deleted,
            lsn=lsn_text(done.lsn),
            index=self.view.alias,
            first=events[0].coordinates,
            last=events[-1].coordinates,
            rebuild_ms=round(done.rebuild_s * 1000, 1),
            total_ms=round((time.perf_counter() - done.started) * 1000, 1),
        )

    def _check_index_version(self) -> View:
        return self.index_check.check(self.es, self.view)

    # -- dead letters and offsets ---------------------------------------------------------------
    def _dead_letter(self, msg: Message, origin: tuple[str, int, int], lsn: int | None, error: Exception) -> None:
        at = coordinates(*origin)
        redriven = offsets.record_position(msg)[0] == self.config.redrive_topic
        if at in self.dead_lettered and not redriven:
            # Met again by a replay: recorded before (and held, unless an operator resolved it). Once per view.
            self.log.info("event dead-lettered before; not recorded again", at=at)
            return
        # The hold is recorded before the offset is committed: the published position must not pass this change.
        if self.watermark is not None:
            self._outage_safe(self.watermark.hold, at, lsn)
        headers = dead_letter_headers(self.view.name, origin, lsn, error)
        # Counted as dead-lettered only once Kafka confirmed the delivery: a lost dead letter is a lost event.
        deliver(self.producer, self.config.dead_letter_topic, msg, headers, self.retries, self.log)
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

    def _commit(self, records: list[Message], next_offsets: dict[tuple[str, int], int] | None = None) -> None:
        """Commits ``next_offsets`` (``offsets.next_offsets(records)`` unless given) for the batch ``records``."""
        if next_offsets is None:
            next_offsets = offsets.next_offsets(records)
        metadata = self.replays.metadata(next_offsets)
        offsets.commit(self.consumer, self.retries, records, next_offsets, self.log, metadata)

    def _wait_polling(self, seconds: float) -> None:
        """The retry policies' wait: partitions paused, polling (sinks/pausing.py)."""
        self.paused.wait(self.consumer, self.stopping, seconds, self.log)

    def _resume_all(self) -> None:
        self.paused.resume_all(self.consumer, self.log)

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

    # -- health ---------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """ok, or degraded with the reasons (sinks/health.py)."""
        return health_report(self.view, self.state, self.watermark, self.config.stall_after_s)
