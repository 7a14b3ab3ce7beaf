"""Reading capture topics from the tests: every partition (a table's topic has FARMACY_TOPIC_PARTITIONS of them,
and Kafka puts each row's changes in the partition of its key)."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition


def assign_at_end(consumer: Consumer, topic: str) -> None:
    """Assigns every partition of ``topic`` at its current end: the consumer reads what is written from now on."""
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    assert metadata.error is None, f"topic {topic}: {metadata.error}"
    consumer.assign(
        [
            TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
            for p in metadata.partitions
        ]
    )
