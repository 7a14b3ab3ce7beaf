"""Builds a sink worker's adapters from settings: consumer, producer, Elasticsearch, master pool."""

from __future__ import annotations

import orjson
import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer
from psycopg import IsolationLevel
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool

from farmacy.settings import Settings
from sinks.control import Control
from sinks.events import coordinates, dict_headers
from sinks.indices import ensure_index, ensure_sync_index
from sinks.runner import Runner, RunnerConfig
from sinks.topic_reader import partition_ends, read_to_end
from sinks.views import VIEWS
from sinks.watermark import Watermark


def group_id(settings: Settings, view: str) -> str:
    return settings.sink_group_id(view)


def dead_letter_topic(settings: Settings, view: str) -> str:
    return settings.dead_letter_topic(view)


def _configure(conn: psycopg.Connection) -> None:
    conn.isolation_level = IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    # Documents come back as jsonb: orjson parses them several times faster than the standard library (which was
    # 28% of a blue/green fill's CPU).
    set_json_loads(orjson.loads, conn)


# As the connector creates table topics (connectors/*.json, topic.creation.default.*); a unit test keeps them equal.
CAPTURE_TOPIC_CONFIG = {"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000"}


def ensure_topic(settings: Settings, name: str, compacted: bool = False, keep: bool = False) -> None:
    """Creates a topic when missing: compacted like the capture topics (with ``topic_partitions`` partitions, added
    to one that has fewer), kept for good (dead letters: each holds its view until resolved, however long that
    takes), or kept 30 days.

    Adding partitions to a capture topic is safe here although it moves keys to other partitions: an event only
    names the roots to rebuild, and every rebuild reads the master and carries its snapshot's version, so the order
    in which two partitions' events are applied never decides what a document holds."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    retention = {"retention.ms": "-1" if keep else str(30 * 24 * 3600 * 1000)}
    config = CAPTURE_TOPIC_CONFIG if compacted else retention
    partitions = settings.topic_partitions if compacted else 1
    # -1: the brokers' default.replication.factor (1 on one broker, 3 on a cluster with min.insync.replicas 2,
    # where a topic with one replica could never take an acks=all write).
    futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=-1, config=config)])
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
            if compacted:
                _ensure_partitions(admin, name, partitions)


def _ensure_partitions(admin: AdminClient, name: str, count: int) -> None:
    have = len(admin.list_topics(topic=name, timeout=10).topics[name].partitions)
    if have >= count:
        return
    for future in admin.create_partitions([NewPartitions(name, count)]).values():
        try:
            future.result()
        except KafkaException as exc:  # another worker of the view added them first
            if "INVALID_PARTITIONS" not in str(exc):
                raise


def bootstrap(settings: Settings, view_name: str, worker: int = 0) -> Runner:
    view = VIEWS[view_name]
    # No client-side retries: the runner decides (an unanswered request is an outage, and shows in health).
    es = Elasticsearch(
        settings.elasticsearch_urls,
        request_timeout=settings.sink_es_timeout_s,
        # A node that refuses the connection: the next node; a timeout is the worker's own retry to make.
        max_retries=len(settings.elasticsearch_urls) - 1,
        retry_on_timeout=False,
        serializer=OrjsonSerializer(),  # bulk responses (an item per document) parsed by orjson
    )
    ensure_index(es, view, settings.view_replicas)
    ensure_sync_index(es, settings.sync_index, settings.view_replicas)
    dlq = dead_letter_topic(settings, view_name)
    ensure_topic(settings, dlq, keep=True)
    redrive = settings.redrive_topic(view_name)
    ensure_topic(settings, redrive)
    topics = [settings.topic(*table.split(".")) for table in view.tables]
    # Debezium creates a table's topic with its first event; on a fresh system that can be after this worker
    # subscribed, and a consumer notices new topics only on a metadata refresh. Create them now, with the
    # settings the connector would use (connectors/*.json: topic.creation.default.*).
    for topic in topics:
        ensure_topic(settings, topic, compacted=True)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group_id(settings, view_name),
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "max.poll.interval.ms": 900_000,
            # A worker killed without a clean leave holds its partitions until the group times its session out;
            # its restart (seconds later) would wait that long. Heartbeats come from librdkafka's own thread, so a
            # long batch does not count against the session (max.poll.interval.ms bounds that).
            "session.timeout.ms": 6_000,
            "heartbeat.interval.ms": 1_500,
            "enable.partition.eof": False,
            "topic.metadata.refresh.interval.ms": 10_000,
            # Eager rebalancing (the default range/round-robin assignors): cooperative-sticky kept a worker's fetch
            # position past a batch whose commit a broker restart refused, and the view's position stopped there.
            "client.id": f"sink-{view_name}-{worker}",
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "client.id": f"sink-{view_name}-{worker}-dlq",
        }
    )
    pool = read_pool(settings, f"sink-{view_name}-{worker}")
    config = RunnerConfig(
        batch_size=settings.sink_batch_size,
        poll_timeout_s=settings.sink_poll_timeout_s,
        idle_poll_s=settings.sink_idle_poll_s,
        max_retries=settings.sink_max_retries,
        retry_backoff_s=settings.sink_retry_backoff_s,
        dead_letter_topic=dlq,
        redrive_topic=redrive,
        stall_after_s=settings.sink_stall_after_s,
        bulk_max_bytes=settings.sink_bulk_max_bytes,
    )

    def new_admin() -> AdminClient:
        return AdminClient(
            {"bootstrap.servers": settings.kafka_bootstrap, "client.id": f"sink-{view_name}-{worker}-offsets"}
        )

    watermark = Watermark(
        view_name,
        view.alias,
        pool,
        consumer,
        new_admin,
        es,
        settings.slot_name,
        settings.sync_index,
        topics=[*topics, redrive],
        worker=str(worker),
        group=group_id(settings, view_name),
        interval_s=settings.sink_observe_interval_s,
        chase_interval_s=settings.sink_observe_busy_s,
        publish_interval_s=settings.sink_publish_interval_s,
    )
    watermark.load_holds()
    control = Control(es, watermark.store, view_name, str(worker))
    runner = Runner(view, [*topics, redrive], consumer, producer, es, pool, config, watermark, control)
    runner.dead_lettered = dead_lettered_coordinates(settings, view_name)
    return runner


def dead_lettered_coordinates(settings: Settings, view: str) -> set[str]:
    """Source coordinates of every event this view has dead-lettered, read from its dead-letter topic: a replay
    that meets one of them again does not record it again."""
    topic = dead_letter_topic(settings, view)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"{settings.sink_group_id(view)}-dlq-index",
            "enable.auto.commit": False,
        }
    )
    seen: set[str] = set()
    try:
        ends = partition_ends(consumer, topic)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        for msg in read_to_end(consumer, ends):
            headers = dict_headers(msg)
            if "dlq.topic" in headers:
                seen.add(coordinates(headers["dlq.topic"], int(headers["dlq.partition"]), int(headers["dlq.offset"])))
    finally:
        consumer.close()
    return seen


READ_POOL_RECONNECT_S = 5.0


def read_pool(settings: Settings, name: str, max_size: int = 2) -> ConnectionPool:
    """A pool of REPEATABLE READ, read-only connections: every rebuild reads one snapshot."""
    return ConnectionPool(
        settings.pg_dsn,
        # Rebuild queries are many small index lookups: JIT compiling them costs more than it saves.
        kwargs={"options": "-c jit=off"},
        min_size=1,
        max_size=max_size,
        configure=_configure,
        check=ConnectionPool.check_connection,
        # Retry a failed connection with a doubling delay for 5 s at most, then start afresh on the next request: the
        # default (5 minutes) let the delay grow past 16 s while the master restarted, and the view lagged that long.
        reconnect_timeout=READ_POOL_RECONNECT_S,
        name=name,
        open=True,
    )
