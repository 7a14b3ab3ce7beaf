"""Sink throughput of a full backfill, next to a raw _bulk of the same documents, per view.

For each view, a sink runner (the production code, in-process) reads every event of the view's topics
from the start with a fresh consumer group and writes to a scratch index; the clock stops when it has
committed up to the end offsets. Then the same documents, built by the view's own query, are written
with plain _bulk requests of the same size to another scratch index. Scratch indices are deleted.

    .venv/bin/python -m benchmarks.backfill                    # on whatever the master holds now
    .venv/bin/python -m benchmarks.backfill --generate         # first add 10,000 meals x 200 locations
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time
import uuid

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # imported there, not re-exported
from elasticsearch import Elasticsearch

from benchmarks.generate_dataset import generate
from farmacy.logs import configure_logging
from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from ops.reconcile import projection
from sinks.bootstrap import ensure_topic, read_pool
from sinks.indices import ensure_index
from sinks.pipeline import Rebuilt, bulk_operations
from sinks.runner import Runner, RunnerConfig
from sinks.view import View
from sinks.views import VIEWS


def index_stats(es: Elasticsearch) -> None:
    print(f"{'view':14s} {'documents':>10s} {'nested+docs':>12s} {'size':>10s}")
    for name in VIEWS:
        index = next(iter(es.indices.get_alias(name=name).body))
        stats = es.indices.stats(index=index, metric="docs,store")["indices"][index]["primaries"]
        count = es.count(index=name)["count"]
        size_mb = stats["store"]["size_in_bytes"] / 1e6
        print(f"{name:14s} {count:>10d} {stats['docs']['count']:>12d} {size_mb:>9.1f}M")


def wait_views(es: Elasticsearch, settings: Settings, lsn: int, timeout: float = 3600) -> float:
    started = time.perf_counter()
    for name in VIEWS:
        while True:
            applied = es.get(index=settings.sync_index, id=name)["_source"]["applied_lsn_int"]
            if applied >= lsn:
                break
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"{name} did not reach {lsn}")
            time.sleep(0.2)
    return time.perf_counter() - started


def backfill(settings: Settings, es: Elasticsearch, view: View, batch_size: int) -> tuple[int, float]:
    bench = dataclasses.replace(view, name=f"bench-{view.name}")
    ensure_index(es, bench)
    topics = [settings.topic(*t.split(".")) for t in view.tables]
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # OffsetSpec has no annotations
    ends = {
        tp.topic: f.result().offset
        for tp, f in admin.list_offsets({TopicPartition(t, 0): latest for t in topics}).items()
    }
    events = sum(ends.values())
    group = f"bench-{view.name}-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    ensure_topic(settings, f"{settings.topic_prefix}.dlq.bench")
    with read_pool(settings, f"bench-{view.name}") as pool:
        runner = Runner(
            bench,
            topics,
            consumer,
            producer,
            es,
            pool,
            RunnerConfig(batch_size=batch_size, dead_letter_topic=f"{settings.topic_prefix}.dlq.bench"),
        )
        thread = threading.Thread(target=runner.run, daemon=True)
        started = time.perf_counter()
        thread.start()
        while True:
            time.sleep(0.2)
            result = admin.list_consumer_group_offsets([_group_request(group, topics)])
            done = {tp.topic: tp.offset for tp in next(iter(result.values())).result().topic_partitions}
            if all(done.get(t, -1) >= end for t, end in ends.items()):
                break
        elapsed = time.perf_counter() - started
        runner.stop()
        thread.join(30)
    es.indices.delete(index=bench.index_name)
    return events, elapsed


def _group_request(group: str, topics: list[str]) -> ConsumerGroupTopicPartitions:
    return ConsumerGroupTopicPartitions(group, [TopicPartition(t, 0) for t in topics])


def raw_bulk(settings: Settings, es: Elasticsearch, view: View, batch_size: int) -> tuple[int, float]:
    raw = dataclasses.replace(view, name=f"bench-raw-{view.name}")
    ensure_index(es, raw)
    with read_pool(settings, f"bench-raw-{view.name}") as pool:
        docs = projection(pool, view)
    ids = sorted(docs)
    elapsed = 0.0
    for i in range(0, len(ids), batch_size):
        chunk = {k: docs[k] for k in ids[i : i + batch_size]}
        ops = bulk_operations(raw.alias, Rebuilt(lsn=1, docs=chunk, deleted=frozenset(), version=1))
        started = time.perf_counter()
        es.bulk(operations=ops)
        elapsed += time.perf_counter() - started
    es.indices.delete(index=raw.index_name)
    return len(ids), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", action="store_true", help="first generate a dataset (see its options)")
    parser.add_argument("--meals", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.025)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--view", action="append", help="only these views")
    args = parser.parse_args()
    settings = Settings()
    configure_logging("console", "WARNING")
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=120)
    if args.generate:
        started = time.perf_counter()
        lsn = generate(settings, args.meals, args.locations, args.density, run=hex(int(time.time()))[2:])
        load_s = time.perf_counter() - started
        caught_up = wait_views(es, settings, lsn_int(lsn))
        print(f"load {load_s:.1f}s; the four running sinks caught up {caught_up:.1f}s after the load committed")
    index_stats(es)
    print(
        f"\n{'view':14s} {'events':>8s} {'backfill s':>10s} {'events/s':>9s} | {'docs':>7s} {'raw _bulk s':>11s} "
        f"{'docs/s':>8s}"
    )
    for name in args.view or list(VIEWS):
        view = VIEWS[name]
        events, took = backfill(settings, es, view, args.batch_size)
        docs, bulk_s = raw_bulk(settings, es, view, args.batch_size)
        print(
            f"{name:14s} {events:>8d} {took:>10.1f} {events / took:>9.0f} | {docs:>7d} {bulk_s:>11.1f} "
            f"{docs / bulk_s if bulk_s else 0:>8.0f}"
        )
    es.close()


if __name__ == "__main__":
    main()
