"""Where each view stands: applied position and age, consumer lag per topic, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.settings import Settings
from sinks.bootstrap import dead_letter_topic, group_id
from sinks.views import VIEWS


def _ends(admin: AdminClient, topics: list[str]) -> dict[str, int]:
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    futures = admin.list_offsets({TopicPartition(t, 0): latest for t in topics}, request_timeout=10)
    result = {}
    for tp, future in futures.items():
        try:
            result[tp.topic] = int(future.result().offset)
        except KafkaException:
            result[tp.topic] = 0  # not created yet: nothing to consume
    return result


def _committed(admin: AdminClient, group: str, topics: list[str]) -> dict[str, int]:
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, 0) for t in topics])
    future = next(iter(admin.list_consumer_group_offsets([request]).values()))
    return {tp.topic: max(0, tp.offset) for tp in future.result().topic_partitions}


def view_status(settings: Settings, es: Elasticsearch, admin: AdminClient, view: str) -> dict[str, Any]:
    topics = [settings.topic(*t.split(".")) for t in VIEWS[view].sources]
    ends, committed = _ends(admin, topics), _committed(admin, group_id(settings, view), topics)
    dlq = dead_letter_topic(settings, view)
    try:
        sync = dict(es.get(index=settings.sync_index, id=view)["_source"])
    except NotFoundError:
        sync = {}
    applied_at = sync.get("applied_at")
    age = (datetime.now(UTC) - datetime.fromisoformat(applied_at)).total_seconds() if applied_at else None
    return {
        "view": view,
        "applied_lsn": sync.get("applied_lsn"),
        "applied_at": applied_at,
        "applied_age_s": round(age, 3) if age is not None else None,
        "lag": {t: max(0, ends[t] - committed.get(t, 0)) for t in topics},
        "lag_total": sum(max(0, ends[t] - committed.get(t, 0)) for t in topics),
        "dead_letters": _ends(admin, [dlq])[dlq],
    }
