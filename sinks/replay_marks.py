"""Replay marks: which records a replay asked a view's worker to read again.

``farmacy replay`` moves a view's group offsets back and stores with each moved offset the partition's end at that
moment, as the commit's metadata (``replay-until=<offset>``). Records below that end are the replay's: the worker
re-derives the roots of every change among them, even an update whose old and new rows read the same
(``RootRefs.add``), since the view a replay repairs may lack what the change's predecessors did (and a compacted
topic may have dropped those). The worker carries the mark in its own commits until it has passed the end, so a
restart in the middle of a replay still honours it. A partition whose committed offset could not be read counts as
replayed until it is.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition

from sinks.events import ChangeEvent

Partition = tuple[str, int]
PREFIX = "replay-until="


def replay_mark(until: int) -> str:
    """The commit metadata that makes the records below ``until`` a replay's."""
    return f"{PREFIX}{until}"


def parse_mark(metadata: str | None) -> int | None:
    """The end a commit's metadata marks, or None when it marks none."""
    if not metadata or not metadata.startswith(PREFIX):
        return None
    try:
        return int(metadata[len(PREFIX) :])
    except ValueError:
        return None


class ReplayMarks:
    def __init__(self) -> None:
        self.until: dict[Partition, int] = {}  # records below this offset are a replay's
        self.unknown: set[Partition] = set()  # assigned, committed offset (and mark) not read yet

    def learn(self, consumer: Consumer, partitions: list[TopicPartition], timeout: float) -> None:
        """Reads the marks of newly assigned ``partitions`` from their committed offsets."""
        self.unknown |= {(tp.topic, tp.partition) for tp in partitions}
        self.retry(consumer, timeout)

    def retry(self, consumer: Consumer, timeout: float) -> None:
        if not self.unknown:
            return
        try:
            committed = consumer.committed([TopicPartition(t, p) for t, p in sorted(self.unknown)], timeout=timeout)
        except KafkaException:
            return  # still unknown: replayed, to be safe
        for tp in committed:
            key = (tp.topic, tp.partition)
            until = parse_mark(tp.metadata)
            if until is not None and tp.offset < until:
                self.until[key] = until
            else:
                self.until.pop(key, None)
            self.unknown.discard(key)

    def start(self, partition: Partition, until: int) -> None:
        """A replay this worker moved ``partition`` back for: the records below ``until`` are the replay's."""
        self.until[partition] = until
        self.unknown.discard(partition)

    def forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.until.pop((tp.topic, tp.partition), None)
            self.unknown.discard((tp.topic, tp.partition))

    def replaying(self, event: ChangeEvent) -> bool:
        """Whether ``event`` is read again by a replay (or may be: its partition's mark is not known yet)."""
        key = (event.topic, event.partition)
        return key in self.unknown or event.offset < self.until.get(key, -1)

    def metadata(self, offsets: dict[Partition, int]) -> dict[Partition, str]:
        """The metadata to commit with ``offsets``: the mark of each partition not yet past its end (a partition
        past it has no mark any more)."""
        out: dict[Partition, str] = {}
        for key, offset in offsets.items():
            until = self.until.get(key)
            if until is None:
                continue
            if offset < until:
                out[key] = replay_mark(until)
            else:
                del self.until[key]
        return out
