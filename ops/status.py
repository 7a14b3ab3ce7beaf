"""Where each view stands: applied position and age, consumer lag per topic, dead letters; and the capture slot."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.consistency import SyncDocument as F
from farmacy.settings import Settings
from sinks.bootstrap import dead_letter_topic, group_id
from sinks.sync_document import held
from sinks.views import VIEWS


def _partitions(admin: AdminClient, topics: list[str]) -> list[TopicPartition]:
    """Every partition of the topics that exist (a topic not created yet has nothing to consume)."""
    metadata = admin.list_topics(timeout=10).topics
    return [TopicPartition(t, p) for t in topics if t in metadata for p in metadata[t].partitions]


def _ends(admin: AdminClient, partitions: list[TopicPartition]) -> dict[str, int]:
    """End offsets per topic, summed over its partitions."""
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    result: dict[str, int] = {}
    if not partitions:
        return result
    for tp, future in admin.list_offsets(dict.fromkeys(partitions, latest), request_timeout=10).items():
        try:
            result[tp.topic] = result.get(tp.topic, 0) + int(future.result().offset)
        except KafkaException:
            result.setdefault(tp.topic, 0)
    return result


def topic_ends(admin: AdminClient, topics: list[str]) -> dict[str, int]:
    """Records ever written to each topic: its end offsets summed over its partitions (0 for a missing topic)."""
    ends = _ends(admin, _partitions(admin, topics))
    return {t: ends.get(t, 0) for t in topics}


_readers: dict[tuple[str, str], Consumer] = {}
_readers_lock = threading.Lock()


def _group_reader(settings: Settings, group: str) -> Consumer:
    """A consumer of ``group`` that never joins it (no subscribe), kept for reading its committed offsets."""
    key = (settings.kafka_bootstrap, group)
    with _readers_lock:
        if key not in _readers:
            _readers[key] = Consumer(
                {"bootstrap.servers": settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
            )
        return _readers[key]


def _committed(settings: Settings, group: str, partitions: list[TopicPartition]) -> dict[str, int]:
    """The group's committed offsets per topic, summed over its partitions (none committed counts as 0).

    Read through a consumer of the group, not the admin client's ListConsumerGroupOffsets, which in librdkafka
    crashes the process (a null consumer group dereferenced in one of its threads) when a broker answers
    NOT_COORDINATOR, as it does while the group's coordinator moves."""
    result: dict[str, int] = {}
    if not partitions:
        return result
    answer = _group_reader(settings, group).committed([TopicPartition(tp.topic, tp.partition) for tp in partitions], 10)
    for tp in answer:
        result[tp.topic] = result.get(tp.topic, 0) + max(0, tp.offset)
    return result


def view_lag(settings: Settings, admin: AdminClient, view: str) -> dict[str, int]:
    """Per topic of the view, the records its consumer group has not committed yet (summed over partitions)."""
    topics = [settings.topic(*t.split(".")) for t in VIEWS[view].tables]
    partitions = _partitions(admin, topics)
    ends, committed = _ends(admin, partitions), _committed(settings, group_id(settings, view), partitions)
    return {t: max(0, ends.get(t, 0) - committed.get(t, 0)) for t in topics}


def view_status(settings: Settings, es: Elasticsearch, admin: AdminClient, view: str) -> dict[str, Any]:
    lag = view_lag(settings, admin, view)
    dlq = dead_letter_topic(settings, view)
    try:
        sync = dict(es.get(index=settings.sync_index, id=view)["_source"])
    except NotFoundError:
        sync = {}
    applied_at = sync.get(F.APPLIED_AT)
    age = (datetime.now(UTC) - datetime.fromisoformat(applied_at)).total_seconds() if applied_at else None
    return {
        "view": view,
        "applied_lsn": sync.get(F.APPLIED_LSN),
        "applied_at": applied_at,
        "applied_age_s": round(age, 3) if age is not None else None,
        "lag": lag,
        "lag_total": sum(lag.values()),
        "dead_letters": topic_ends(admin, [dlq])[dlq],  # every dead letter ever recorded, resolved or not
        "dead_letters_current": len(held(sync)),  # unresolved: the holds of the sync document
    }


def replication_slot(settings: Settings) -> dict[str, Any] | None:
    """The capture slot: active, its WAL status, confirmed position, and the WAL retained behind it (lag_bytes);
    None when it does not exist (the connector never started)."""
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(
            """SELECT slot_name, plugin, active, wal_status, confirmed_flush_lsn::text,
                      pg_current_wal_lsn()::text, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint
               FROM pg_replication_slots WHERE slot_name = %s""",
            [settings.slot_name],
        ).fetchone()
    if row is None:
        return None
    keys = ("slot_name", "plugin", "active", "wal_status", "confirmed_flush_lsn", "current_wal_lsn", "lag_bytes")
    return dict(zip(keys, row, strict=True))
