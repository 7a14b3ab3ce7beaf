"""Dead-letter inspection, re-drive and discard (ops).

Every dead letter holds its view's published position (sinks/watermark.py) until it is resolved, in one of two ways:
- re-drive: the dead letter goes to the view's own re-drive topic (``<prefix>.redrive.<view>``), which only that
  view's worker reads, so no other view sees it again. The worker rebuilds the roots it names from the master (an
  old event is harmless); once applied, its hold is released. Still poison, it is dead-lettered again.
- discard: an operator decides the change needs nothing (or was repaired by ``farmacy reconcile --repair``); a
  discard marker goes through the same re-drive topic and the worker releases the hold.
A dedicated consumer group per view and action remembers how far each has gone, so nothing is sent twice.

A dead letter is current while its hold stands (its source coordinates are among the holds of the view's sync
document) and it is the latest dead letter of that change; otherwise it is resolved (applied after a re-drive or a
replay, discarded, or dead-lettered again, which makes the newer letter the current one). One letter can also be
re-driven or discarded on its own (``resolve_one``); the view-wide actions may send it again later, which changes
nothing (a re-drive rebuilds from the master, a second release finds no hold).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.settings import Settings
from sinks.bootstrap import dead_letter_topic
from sinks.events import coordinates, dict_headers
from sinks.sync_document import held
from sinks.topic_reader import partition_ends, read_to_end


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def origin(self) -> str | None:
        """Where its change was first read, as holds name it ('topic[partition]@offset'); None if not a dead letter."""
        h = self.headers
        if "dlq.topic" not in h:
            return None
        return coordinates(h["dlq.topic"], int(h.get("dlq.partition", 0)), int(h.get("dlq.offset", 0)))


@dataclass(frozen=True)
class LetterState:
    letter: DeadLetter
    current: bool  # its hold stands and no newer dead letter of the same change exists


class UnknownDeadLetter(LookupError):
    pass


def holds(settings: Settings, view: str, es: Elasticsearch | None = None) -> set[str]:
    """The source coordinates of the view's unresolved dead letters (the holds of its sync document)."""
    client = es or Elasticsearch(settings.elasticsearch_urls, request_timeout=30)
    try:
        return set(held(dict(client.get(index=settings.sync_index, id=view)["_source"])))
    except NotFoundError:
        return set()
    finally:
        if es is None:
            client.close()


def classify(letters: list[DeadLetter], held_at: set[str]) -> list[LetterState]:
    """Each letter with whether it is current: held, and the latest letter of its change."""
    latest: dict[str, DeadLetter] = {}
    for letter in letters:
        origin = letter.origin
        if origin is not None and (origin not in latest or _failed_at(letter) >= _failed_at(latest[origin])):
            latest[origin] = letter
    return [LetterState(letter, letter.origin in held_at and latest.get(letter.origin) is letter) for letter in letters]


def _failed_at(letter: DeadLetter) -> tuple[str, int]:
    return letter.headers.get("dlq.failed_at", ""), letter.offset


def letter_states(settings: Settings, view: str, limit: int = 50, es: Elasticsearch | None = None) -> list[LetterState]:
    """The latest ``limit`` dead letters of the view, each marked current or resolved."""
    return classify(list_dead_letters(settings, view, limit), holds(settings, view, es))


def _read(consumer: Consumer, ends: dict[int, int]) -> Iterator[tuple[Message, DeadLetter]]:
    for msg in read_to_end(consumer, ends):
        yield msg, DeadLetter(msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(), dict_headers(msg))


def _inspector(settings: Settings, view: str) -> Consumer:
    """A consumer that reads the view's dead letters where it is told (assign), never committing."""
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.stack_name}-dlq-inspect-{view}",
            "enable.auto.commit": False,
        }
    )


def list_dead_letters(settings: Settings, view: str, limit: int = 50) -> list[DeadLetter]:
    topic = dead_letter_topic(settings, view)
    consumer = _inspector(settings, view)
    try:
        ends = partition_ends(consumer, topic)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        return [letter for _msg, letter in _read(consumer, ends)][-limit:]
    finally:
        consumer.close()


def redrive(settings: Settings, view: str) -> int:
    """Sends every not-yet-re-driven dead letter of the view to the view's re-drive topic; returns how many."""
    return _forward(settings, view, discard=False)


def discard(settings: Settings, view: str) -> int:
    """Resolves every not-yet-resolved dead letter of the view without applying it; returns how many."""
    return _forward(settings, view, discard=True)


def resolve_one(settings: Settings, view: str, partition: int, offset: int, discard: bool) -> DeadLetter:
    """Re-drives (or, with ``discard``, resolves without applying) the one dead letter at ``partition:offset`` of
    the view's dead-letter topic; raises UnknownDeadLetter when there is none there."""
    topic = dead_letter_topic(settings, view)
    consumer = _inspector(settings, view)
    try:
        ends = partition_ends(consumer, topic)
        if offset < 0 or offset >= ends.get(partition, 0):
            raise UnknownDeadLetter(f"no dead letter at {topic}[{partition}]@{offset}")
        consumer.assign([TopicPartition(topic, partition, offset)])
        found = next((letter for _msg, letter in _read(consumer, {partition: offset + 1})), None)
    finally:
        consumer.close()
    if found is None or found.offset != offset or found.origin is None:
        raise UnknownDeadLetter(f"no dead letter at {topic}[{partition}]@{offset}")
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "acks": "all", "enable.idempotence": True})
    _send(producer, topic, settings.redrive_topic(view), found, discard)
    return found


def _send(producer: Producer, topic: str, target: str, letter: DeadLetter, discard: bool) -> None:
    """Produces the letter (or its discard marker) to the view's re-drive topic and waits for Kafka to have it."""
    headers: list[tuple[str, str | bytes | None]] = [(k, v) for k, v in letter.headers.items() if k.startswith("dlq.")]
    headers += [("redrive.from", f"{topic}[{letter.partition}]@{letter.offset}")]
    if discard:
        headers.append(("redrive.discard", "true"))
    producer.produce(target, key=letter.key, value=None if discard else letter.value, headers=headers)
    if producer.flush(30):
        action = "discard" if discard else "redrive"
        raise RuntimeError(f"{target} did not acknowledge the {action} of {letter.headers['dlq.topic']}")


def _forward(settings: Settings, view: str, discard: bool) -> int:
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
            _send(producer, topic, target, letter, discard)
            consumer.commit(message=msg, asynchronous=False)
            sent += 1
    finally:
        consumer.close()
    return sent
