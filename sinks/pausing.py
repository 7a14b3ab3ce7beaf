"""Waiting for a retry without leaving the consumer group.

While a retry waits (an outage, a failing batch), the worker keeps polling with its partitions paused, so a long
outage does not cost it its place in the group (max.poll.interval.ms). A partition assigned meanwhile is paused too
(sinks/runner.py's on_assign); a record that still arrives is put back by seeking to it. Resuming that fails (the
broker away) is tried again before the next batch.
"""

from __future__ import annotations

import threading
import time

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from sinks.offsets import record_position


class PausedWait:
    def __init__(self) -> None:
        self.waiting = False  # a retry is waiting with the partitions paused
        self.resume_pending = False  # resuming after a wait failed; tried again before the next batch

    def wait(
        self, consumer: Consumer, stopping: threading.Event, seconds: float, log: structlog.stdlib.BoundLogger
    ) -> None:
        """Waits (for a retry) while serving the consumer: partitions paused, polling, so the group keeps this
        member. A record that still arrives (a partition assigned meanwhile) is put back by seeking to it."""
        deadline = time.monotonic() + seconds
        self.waiting = True
        try:
            consumer.pause(consumer.assignment())
        except KafkaException as exc:
            log.warning("could not pause partitions", error=str(exc)[:200])
        try:
            while not stopping.is_set() and (left := deadline - time.monotonic()) > 0:
                try:
                    msg = consumer.poll(min(left, 0.5))
                    if msg is not None and msg.error() is None:
                        tp = TopicPartition(*record_position(msg))
                        consumer.seek(tp)
                        consumer.pause([tp])
                except KafkaException as exc:  # a rebalance callback's error, the broker away: keep waiting
                    log.warning("consumer error while waiting", error=str(exc)[:200])
                    stopping.wait(min(max(deadline - time.monotonic(), 0), 0.5))
        finally:
            self.waiting = False
            self.resume_all(consumer, log)

    def resume_all(self, consumer: Consumer, log: structlog.stdlib.BoundLogger) -> None:
        try:
            consumer.resume(consumer.assignment())
            self.resume_pending = False
        except KafkaException as exc:
            self.resume_pending = True  # tried again before the next batch
            log.warning("could not resume partitions", error=str(exc)[:200])
