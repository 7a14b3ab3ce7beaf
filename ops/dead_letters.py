"""Dead-letter inspection and re-drive (ops).

Re-driving sends a dead-lettered event back to the topic it came from. The worker then handles it like
any other event: it rebuilds the roots it names from the master (so an old event is harmless), or, if it
is still poison, dead-letters it again. A dedicated consumer group remembers how far re-drive has gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from farmacy.settings import Settings
from sinks.bootstrap import dead_letter_topic


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]


def _headers(msg: Message) -> dict[str, str]:
    pairs: list[tuple[str, bytes | None]] = list(msg.headers() or [])  # type: ignore[arg-type]
    return {k: (v or b"").decode(errors="replace") for k, v in pairs}


def _read(consumer: Consumer, topic: str) -> Iterator[tuple[Message, DeadLetter]]:
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    while True:
        msg = consumer.poll(2.0)
        if msg is None:
            return
        if msg.error():
            continue
        offset = msg.offset() or 0
        yield msg, DeadLetter(offset, msg.key(), msg.value(), _headers(msg))
        if offset + 1 >= high:
            return


def list_dead_letters(settings: Settings, view: str, limit: int = 50) -> list[DeadLetter]:
    topic = dead_letter_topic(settings, view)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"farmacy-dlq-inspect-{view}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    try:
        return [letter for _msg, letter in _read(consumer, topic)][-limit:]
    finally:
        consumer.close()


def redrive(settings: Settings, view: str) -> int:
    """Sends every not-yet-re-driven dead letter of the view back to its source topic; returns how many."""
    topic = dead_letter_topic(settings, view)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"farmacy-dlq-redrive-{view}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    consumer.subscribe([topic])
    sent = 0
    try:
        for msg, letter in _read(consumer, topic):
            source = letter.headers.get("dlq.topic")
            if not source:
                continue
            producer.produce(
                source, key=letter.key, value=letter.value, headers=[("redriven.from", f"{topic}@{letter.offset}")]
            )
            if producer.flush(30):
                raise RuntimeError(f"{source} did not acknowledge the re-driven event")
            consumer.commit(message=msg, asynchronous=False)
            sent += 1
    finally:
        consumer.close()
    return sent
