"""Offsets: where a batch's records are, what committing the batch stores, and the commit itself.

Offsets are committed only after Elasticsearch acknowledged the batch (or it was dead-lettered), so a crash in
between reads the batch again and re-applies it, harmlessly (versioned rebuilds). A commit that fails (a broker
restarting, the group moving on) is retried briefly (sinks/retries.py), then left: the worker seeks back to the
batch's first offsets and applies it again.
"""

from __future__ import annotations

import contextlib
from functools import partial

import structlog
from confluent_kafka import Consumer, KafkaException, Message, TopicPartition
from tenacity import RetryCallState

from sinks.retries import RetryPolicy, failure

Partition = tuple[str, int]


def record_position(msg: Message) -> tuple[str, int, int]:
    """A consumed record's topic, partition and offset."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    assert topic is not None and partition is not None and offset is not None, "consumed record without position"
    return topic, partition, offset


def next_offsets(records: list[Message]) -> dict[Partition, int]:
    """Per partition, the offset after the last of the records (what a commit of them stores)."""
    last: dict[Partition, int] = {}
    for m in records:
        topic, partition, offset = record_position(m)
        last[(topic, partition)] = max(last.get((topic, partition), -1), offset)
    return {tp: offset + 1 for tp, offset in last.items()}


def first_offsets(records: list[Message]) -> dict[Partition, int]:
    """Per partition, the offset of the first of the records (where reading the batch again starts)."""
    first: dict[Partition, int] = {}
    for m in records:
        topic, partition, offset = record_position(m)
        first[(topic, partition)] = min(first.get((topic, partition), offset), offset)
    return first


def commit(
    consumer: Consumer,
    retries: RetryPolicy,
    records: list[Message],
    offsets: dict[Partition, int] | None,
    log: structlog.stdlib.BoundLogger,
    metadata: dict[Partition, str] | None = None,
) -> None:
    """Commits ``offsets`` (``next_offsets(records)`` unless given) for the batch ``records``, with ``metadata``
    where given (a replay's mark, sinks/replay_marks.py); when the group refuses it, seeks back to the batch's first
    offsets."""
    first = first_offsets(records)
    if offsets is None:
        offsets = next_offsets(records)
    metadata = metadata or {}
    partitions = [
        TopicPartition(t, p, o, metadata=metadata[(t, p)]) if (t, p) in metadata else TopicPartition(t, p, o)
        for (t, p), o in offsets.items()
    ]
    try:
        retries.commit(before_sleep=partial(_on_commit_retry, log))(
            consumer.commit, offsets=partitions, asynchronous=False
        )
    except KafkaException as exc:
        # The group moved on (rebalance, coordinator gone). With cooperative rebalancing this worker may keep
        # the partitions, and its fetch position is already past the batch: it reads the batch again from
        # here and commits it then (re-applying changes nothing: versioned rebuilds). A partition that went
        # to another worker is read again from the last committed offset by that worker.
        log.warning("offsets not committed; the batch will be applied again", error=str(exc)[:300])
        for (topic, partition), offset in first.items():
            with contextlib.suppress(KafkaException):  # not this worker's partition any more
                consumer.seek(TopicPartition(topic, partition, offset))


def _on_commit_retry(log: structlog.stdlib.BoundLogger, attempt: RetryCallState) -> None:
    log.warning("offset commit failed; retrying", error=str(failure(attempt))[:300])
