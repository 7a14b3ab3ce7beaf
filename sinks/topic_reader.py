"""Reading a whole topic once, up to the end it had when the read began (dead-letter topics: at a worker's start,
and for operators listing, re-driving or discarding them)."""

from __future__ import annotations

from collections.abc import Iterator

from confluent_kafka import Consumer, Message, TopicPartition


def partition_ends(consumer: Consumer, topic: str) -> dict[int, int]:
    """Partition -> end offset, for the partitions of the topic that hold anything (none if it does not exist)."""
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    partitions = metadata.partitions if metadata is not None and metadata.error is None else {}
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    return {p: end for p, end in ends.items() if end > 0}


def read_to_end(consumer: Consumer, ends: dict[int, int]) -> Iterator[Message]:
    """Yields the records of the assigned partitions below ``ends``; stops at the ends (or when nothing arrives)."""
    remaining = set(ends)
    while remaining:
        msg = consumer.poll(5.0)
        if msg is None:
            return
        if msg.error():
            continue
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if offset < ends[partition]:
            yield msg
        if offset + 1 >= ends[partition]:
            remaining.discard(partition)
