"""Replay a view from a point in its topics (ops): stop its worker, move the group's offsets, restart."""

from __future__ import annotations

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from farmacy.settings import Settings
from ops.workers import worker_control
from sinks.bootstrap import group_id
from sinks.views import VIEWS

FIRST_OFFSET = 0  # the group's offsets can only be set to real offsets; 0 is the start of every partition


def parse_offset(spec: str) -> TopicPartition:
    topic, partition, offset = spec.rsplit(":", 2)
    return TopicPartition(topic, int(partition), int(offset))


def replay_view(settings: Settings, view: str, offsets: list[str], from_beginning: bool) -> list[TopicPartition]:
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    targets = [parse_offset(s) for s in offsets]
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    if from_beginning:
        topics = [settings.topic(*t.split(".")) for t in VIEWS[view].tables]
        metadata = admin.list_topics(timeout=10).topics
        targets += [TopicPartition(t, p, FIRST_OFFSET) for t in topics if t in metadata for p in metadata[t].partitions]
    workers = worker_control(settings)
    workers.stop(view)  # offsets of a group can only move while it has no members
    try:
        request = ConsumerGroupTopicPartitions(group_id(settings, view), targets)
        result = admin.alter_consumer_group_offsets([request])
        moved: list[TopicPartition] = list(next(iter(result.values())).result().topic_partitions)
    finally:
        workers.start(view)
    return moved
