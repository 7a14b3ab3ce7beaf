"""What every fault test checks after its fault: nothing dead-lettered that should not be, nothing stale, no drift."""

from __future__ import annotations

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # imported there, not re-exported
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.reconcile import reconcile
from sinks.bootstrap import dead_letter_topic, read_pool
from sinks.views import VIEWS


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Records ever written to each view's dead-letter topic (end offsets summed over its partitions)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = admin.list_topics(timeout=10).topics
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # OffsetSpec has no annotations
    request: dict[TopicPartition, OffsetSpec] = {}
    for view in settings.views:
        name = dead_letter_topic(settings, view)
        for partition in topics[name].partitions if name in topics else {}:
            request[TopicPartition(name, partition)] = latest
    counts = dict.fromkeys(settings.views, 0)
    by_topic = {dead_letter_topic(settings, v): v for v in settings.views}
    for tp, future in admin.list_offsets(request, request_timeout=10).items():
        counts[by_topic[tp.topic]] += int(future.result().offset)
    return counts


def drift(settings: Settings, es: Elasticsearch, views: list[str] | None = None) -> dict[str, int]:
    """Missing + extra + different documents per view, against the master."""
    with read_pool(settings, "fault-check") as pool:
        return {name: reconcile(pool, es, VIEWS[name]).total for name in views or list(settings.views)}
