"""Replay a view from a point in its topics (ops): stop its worker, move the group's offsets, restart."""

from __future__ import annotations

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from farmacy.settings import Settings
from sinks.bootstrap import group_id
from sinks.views import VIEWS


def parse_offset(spec: str) -> TopicPartition:
    topic, partition, offset = spec.rsplit(":", 2)
    return TopicPartition(topic, int(partition), int(offset))


def replay_view(settings: Settings, view: str, offsets: list[str], from_beginning: bool) -> list[TopicPartition]:
    from stack.lifecycle import layout_for
    from stack.render import sink_program
    from stack.supervisor import Supervisor

    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    targets = [parse_offset(s) for s in offsets]
    if from_beginning:
        topics = [settings.topic(*t.split(".")) for t in VIEWS[view].sources]
        targets += [TopicPartition(t, 0, 0) for t in topics]  # one partition per topic (connector config)
    sup = Supervisor(layout_for(settings))
    program = sink_program(view)
    sup.stop(program)  # offsets of a group can only move while it has no members
    try:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        request = ConsumerGroupTopicPartitions(group_id(view), targets)
        result = admin.alter_consumer_group_offsets([request])
        moved: list[TopicPartition] = list(next(iter(result.values())).result().topic_partitions)
    finally:
        sup.start(program)
    return moved
