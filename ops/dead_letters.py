"""Dead-letter inspection, re-drive and discard (ops).

Every dead letter holds its view's published position (sinks/watermark.py) until it is resolved, in one of two ways:
- re-drive: the dead letter goes to the view's own re-drive topic (``<prefix>.redrive.<view>``), which only that
  view's worker reads, so no other view sees it again. The worker rebuilds the roots it names from the master (an
  old event is harmless); once applied, its hold is released. Still poison, it is dead-lettered again.
- discard: an operator decides the change needs nothing (or was repaired by ``farmacy reconcile --repair``); a
  discard marker goes through the same re-drive topic and the worker releases the hold.
A dedicated consumer group per view and action remembers how far each has gone, so nothing is sent twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from farmacy.settings import Settings
from sinks.bootstrap import dead_letter_topic
from sinks.events import dict_headers
from sinks.topic_reader import partition_ends, read_to_end


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


def _read(consumer: Consumer, ends: dict[int, int]) -> Iterator[tuple[Message, DeadLetter]]:
    for msg in read_to_end(consumer, ends):
        yield msg, DeadLetter(msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(), dict_headers(msg))


def list_dead_letters(settings: Settings, view: str, limit: int = 50) -> list[DeadLetter]:
    topic = dead_letter_topic(settings, view)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.stack_name}-dlq-inspect-{view}",
            "enable.auto.commit": False,
        }
    )
    try:
        ends = partition_ends(consumer, topic)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        return [letter for _msg, letter in _read(consumer, ends)][-limit:]
    finally:
        consumer.close()


def redrive(settings: Settings, view: str) -> int:
    """Sends every not-yet-re-driven dead letter of the view to the view's re-drive topic; returns how many."""
    return _forward(settings, view, "redrive", discard=False)


def discard(settings: Settings, view: str) -> int:
    """Resolves every not-yet-resolved dead letter of the view without applying it; returns how many."""
    return _forward(settings, view, "discard", discard=True)


def _forward(settings: Settings, view: str, action: str, discard: bool) -> int:
    topic = dead_letter_topic(settings, view)
    target = settings.redrive_topic(view)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            # One group for re-drive and discard: a dead letter is resolved once, whichever way.
            "group.id": f"{settings.stack_name}-dlq-resolve-{view}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    sent = 0
    try:
        ends = partition_ends(consumer, topic)
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=10)
        starts = {tp.partition: max(tp.offset, 0) for tp in committed}
        todo = {p: end for p, end in ends.items() if starts.get(p, 0) < end}
        consumer.assign([TopicPartition(topic, p, starts.get(p, OFFSET_BEGINNING)) for p in todo])
        for msg, letter in _read(consumer, todo):
            if "dlq.topic" not in letter.headers:
                continue
            headers: list[tuple[str, str | bytes | None]] = [
                (k, v) for k, v in letter.headers.items() if k.startswith("dlq.")
            ]
            headers += [("redrive.from", f"{topic}[{letter.partition}]@{letter.offset}")]
            if discard:
                headers.append(("redrive.discard", "true"))
            producer.produce(
                target,
                key=letter.key,
                value=None if discard else letter.value,
                headers=headers,
            )
            if producer.flush(30):
                raise RuntimeError(f"{target} did not acknowledge the {action} of {letter.headers['dlq.topic']}")
            consumer.commit(message=msg, asynchronous=False)
            sent += 1
    finally:
        consumer.close()
    return sent
