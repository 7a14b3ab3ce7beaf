"""Replay a view from a point in its topics (ops): its running workers move their group's offsets (ops/control.py).

The point is a first offset (``--from-beginning``), explicit offsets (``TOPIC:PARTITION:OFFSET``), or a time
(``--since 2026-11-25T10:00Z`` or ``--since 1h``): Kafka's offsets-for-times gives, for every partition of every
topic of the view, the first record at or after it (the end of the partition when there is none). Each moved offset
carries the partition's end as a mark, so the worker re-derives every change up to it (sinks/replay_marks.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.control import request_replay, view_partitions
from sinks.replay_marks import replay_mark
from sinks.views import VIEWS

FIRST_OFFSET = 0  # the group's offsets can only be set to real offsets; 0 is the start of every partition
DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_offset(spec: str) -> TopicPartition:
    topic, partition, offset = spec.rsplit(":", 2)
    return TopicPartition(topic, int(partition), int(offset))


def parse_since(spec: str, now: datetime | None = None) -> datetime:
    """``1h`` / ``30m`` / ``90s`` / ``2d`` before now, or an ISO 8601 time (``Z`` or an offset; none means UTC)."""
    now = now or datetime.now(UTC)
    if match := DURATION.match(spec.strip()):
        return now - timedelta(**{UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = datetime.fromisoformat(spec.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(f"--since {spec!r}: give a duration (30m, 1h, 2d) or a time (2026-11-25T10:00Z)") from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when > now:
        raise ValueError(f"--since {spec!r} is in the future")
    return when


def offsets_at(settings: Settings, partitions: list[TopicPartition], when: datetime) -> list[TopicPartition]:
    """The first offset at or after ``when`` in each partition; a partition with nothing that late gets its end."""
    ms = int(when.timestamp() * 1000)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.stack_name}-replay"})
    try:
        found = consumer.offsets_for_times([TopicPartition(tp.topic, tp.partition, ms) for tp in partitions], 10)
        result = []
        for tp in found:
            offset = tp.offset
            if offset < 0:  # no record at or after the time: start at the end (nothing to replay there)
                offset = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
            result.append(TopicPartition(tp.topic, tp.partition, offset))
        return result
    finally:
        consumer.close()


def marked(settings: Settings, targets: list[TopicPartition]) -> list[TopicPartition]:
    """``targets`` with each partition's end now as the replay's mark (sinks/replay_marks.py): the worker re-derives
    every change below it, even one that left what the view reads as it was."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.stack_name}-replay"})
    try:
        out = []
        for tp in targets:
            end = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
            marked_tp = TopicPartition(tp.topic, tp.partition, tp.offset)
            if tp.offset < end:
                marked_tp = TopicPartition(tp.topic, tp.partition, tp.offset, metadata=replay_mark(end))
            out.append(marked_tp)
        return out
    finally:
        consumer.close()


def replay_view(
    settings: Settings,
    view: str,
    offsets: list[str],
    from_beginning: bool,
    since: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[TopicPartition]:
    """Has the view's running workers read its topics again from ``offsets`` (TOPIC:PARTITION:OFFSET), the first
    offsets, or ``since``; returns the offsets moved to once every partition is there (``progress(done, total)``
    while the workers carry it out)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; views: {', '.join(VIEWS)}")
    targets = [parse_offset(s) for s in offsets]
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    if from_beginning:
        targets += [
            TopicPartition(tp.topic, tp.partition, FIRST_OFFSET) for tp in view_partitions(settings, admin, view)
        ]
    elif since is not None:
        targets += offsets_at(settings, view_partitions(settings, admin, view), since)
    if not targets:
        raise ValueError("nothing to replay: give offsets, --from-beginning or --since")
    known = {(tp.topic, tp.partition) for tp in view_partitions(settings, admin, view, redrive=True)}
    foreign = [f"{tp.topic}:{tp.partition}" for tp in targets if (tp.topic, tp.partition) not in known]
    if foreign:
        raise ValueError(f"not a partition {view} reads: {', '.join(foreign)}")
    targets = marked(settings, targets)
    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=30)
    try:
        request_replay(settings, es, admin, view, targets, progress=progress)
    finally:
        es.close()
    return targets
