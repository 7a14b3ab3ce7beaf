"""The shared sink runner: poll -> batch -> roots -> rebuild -> versioned _bulk -> commit offsets.

It knows no view. Failures are decided here, not in leaf code:
- RetryableError (master or Elasticsearch unavailable): retried with capped backoff for as long as it
  takes; nothing is dead-lettered for an outage.
- anything else (poison event, rejected document, a bug): the batch is retried a bounded number of
  times, then applied event by event so that only the events that still fail go to the dead-letter
  topic with their error; the view keeps moving.
Offsets are committed only after Elasticsearch acknowledged the batch (or it was dead-lettered).
The retry policies themselves (backoff, bounds, stopping) are in sinks/retries.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from elasticsearch import ApiError, Elasticsearch, TransportError
from psycopg_pool import ConnectionPool
from tenacity import RetryCallState

from farmacy.lsn import lsn_text
from sinks import metrics
from sinks.errors import PoisonEventError, RetryableError
from sinks.events import ChangeEvent, parse
from sinks.pipeline import RootRefs, bulk_operations, read_bulk_response, route
from sinks.rebuild import rebuild
from sinks.retries import RetryPolicy, Stopping, failure
from sinks.view import View
from sinks.watermark import Watermark

log = structlog.get_logger("sink")

PROGRESS_EVERY_S = 5.0


@dataclass
class RunnerConfig:
    batch_size: int = 500
    poll_timeout_s: float = 0.05
    max_retries: int = 5
    retry_backoff_s: float = 0.2
    dead_letter_topic: str = ""


@dataclass
class RunnerState:
    applied_lsn: int | None = None
    last_batch_at: float | None = None
    events: int = 0
    dead_letters: int = 0
    degraded: str | None = None  # set while retrying an outage


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
        self.retries = RetryPolicy(self.stopping, config.retry_backoff_s, config.max_retries)
        self.log = log.bind(view=view.name)

    # -- loop -----------------------------------------------------------------------------------
    def run(self) -> None:
        if self.watermark is not None:
            wm = self.watermark
            self.consumer.subscribe(
                self.topics, on_assign=lambda _c, ps: wm.on_assign(ps), on_revoke=lambda _c, ps: wm.on_revoke(ps)
            )
        else:
            self.consumer.subscribe(self.topics)
        self.log.info("sink started", topics=self.topics, index=self.view.index_name)
        next_progress = time.monotonic() + PROGRESS_EVERY_S
        progress_events = 0
        try:
            while not self.stopping.is_set():
                messages = self.consumer.consume(self.config.batch_size, self.config.poll_timeout_s)
                records = [m for m in messages if self._usable(m)]
                if records:
                    self.handle(records)
                    self._commit(records)
                self._tick_watermark()
                if time.monotonic() >= next_progress:
                    self._report_progress(self.state.events - progress_events)
                    progress_events = self.state.events
                    next_progress = time.monotonic() + PROGRESS_EVERY_S
        finally:
            self.consumer.close()
            self.log.info("sink stopped")

    def stop(self) -> None:
        self.stopping.set()

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
        events: list[tuple[Message, ChangeEvent]] = []
        for msg in records:
            try:
                topic, partition, offset = _coordinates(msg)
                event = parse(topic, partition, offset, msg.key(), msg.value())
                RootRefs().add(self.view, event)  # a key that names no root is poison on its own
                events.append((msg, event))
            except PoisonEventError as exc:
                self._dead_letter(msg, exc)
        if not events:
            return
        for _, ev in events:
            metrics.EVENTS.labels(self.view.name, ev.table, ev.op).inc()
        self.state.events += len(events)
        if self._apply_with_retries([e for _, e in events]) is None:
            return
        # The batch cannot be applied: find the events that fail on their own; only those are dead-lettered.
        self.log.warning("batch keeps failing; applying its events one by one", events=len(events))
        for msg, ev in events:
            if (error := self._apply_with_retries([ev])) is not None:
                self._dead_letter(msg, error)

    def _apply_with_retries(self, events: list[ChangeEvent]) -> Exception | None:
        """Applies the events; returns None, or the error that stopped them.

        Outages are retried for as long as they last. A PoisonEventError is returned at once: the same
        input fails the same way. Anything else (a bug, an unexpected answer) gets bounded retries.
        """
        through_outages = self.retries.through_outages(before_sleep=self._on_outage)
        bounded = self.retries.bounded(after=partial(self._on_failure, events))
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
        return None

    def _on_outage(self, attempt: RetryCallState) -> None:
        self.state.degraded = str(failure(attempt))[:300]
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
        refs = route(self.view, events)
        if refs.empty():
            return
        t0 = time.perf_counter()
        rebuilt = rebuild(self.pool, self.view, refs)
        t1 = time.perf_counter()
        metrics.REBUILD_SECONDS.labels(self.view.name).observe(t1 - t0)
        ops = bulk_operations(self.view.alias, rebuilt)
        if ops:
            try:
                response = self.es.bulk(operations=ops)
            except TransportError as exc:
                raise RetryableError(f"elasticsearch unavailable: {exc}") from exc
            except ApiError as exc:
                if exc.meta.status == 429 or exc.meta.status >= 500:
                    raise RetryableError(f"elasticsearch answered {exc.meta.status}") from exc
                raise
            outcome = read_bulk_response(dict(response.body))
            metrics.BULK_SECONDS.labels(self.view.name).observe(time.perf_counter() - t1)
            metrics.DOCS.labels(self.view.name, "applied").inc(outcome.applied)
            metrics.DOCS.labels(self.view.name, "stale").inc(outcome.stale)
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
    def _dead_letter(self, msg: Message, error: Exception) -> None:
        headers: list[tuple[str, str | bytes | None]] = [
            ("dlq.view", self.view.name),
            ("dlq.topic", msg.topic()),
            ("dlq.partition", str(msg.partition())),
            ("dlq.offset", str(msg.offset())),
            ("dlq.error.class", type(error).__name__),
            ("dlq.error", str(error)[:2000]),
            ("dlq.failed_at", datetime.now(UTC).isoformat()),
        ]
        # Counted as dead-lettered only once Kafka confirmed the delivery: a lost dead letter is a lost event.
        self.retries.until_delivered(before_sleep=self._on_undelivered)(self._send_dead_letter, msg, headers)
        self.state.dead_letters += 1
        metrics.DEAD_LETTERS.labels(self.view.name).inc()
        self.log.error(
            "event dead-lettered",
            topic=msg.topic(),
            partition=msg.partition(),
            offset=msg.offset(),
            error=f"{type(error).__name__}: {str(error)[:300]}",
            dead_letter_topic=self.config.dead_letter_topic,
        )

    def _send_dead_letter(self, msg: Message, headers: list[tuple[str, str | bytes | None]]) -> str | None:
        """Produces the dead letter and waits for its delivery report; returns None once delivered, else why not."""
        reports: list[KafkaError | None] = []
        self.producer.produce(
            self.config.dead_letter_topic,
            key=msg.key(),
            value=msg.value(),
            headers=headers,
            on_delivery=lambda err, _msg: reports.append(err),
        )
        self.producer.flush(30)
        if not reports:
            return "no delivery report within 30s"
        return None if reports[0] is None else str(reports[0])

    def _on_undelivered(self, attempt: RetryCallState) -> None:
        assert attempt.outcome is not None
        self.log.warning(
            "dead letter not delivered; retrying", topic=self.config.dead_letter_topic, error=attempt.outcome.result()
        )

    def _commit(self, records: list[Message]) -> None:
        last: dict[tuple[str, int], int] = {}
        for m in records:
            topic, partition, offset = _coordinates(m)
            last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        self.consumer.commit(offsets=offsets, asynchronous=False)
        if self.watermark is not None:
            self.watermark.committed({(t, p): o + 1 for (t, p), o in last.items()})

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
        return {
            "status": "degraded" if self.state.degraded else "ok",
            "view": self.view.name,
            "index": self.view.alias,
            "applied_lsn": lsn_text(self.state.applied_lsn) if self.state.applied_lsn else None,
            "last_batch_at": self.state.last_batch_at,
            "events": self.state.events,
            "dead_letters": self.state.dead_letters,
            "degraded": self.state.degraded,
        }


def _coordinates(msg: Message) -> tuple[str, int, int]:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    assert topic is not None and partition is not None and offset is not None, "consumed record without position"
    return topic, partition, offset
