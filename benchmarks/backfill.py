"""Backfill speed next to a raw _bulk of the same documents, per view, side by side in one run.

- **fill** (the production path, `farmacy rebuild VIEW`'s ops.bluegreen.fill): every document of the view built
  from the master in chunks, each from its own snapshot, into a fresh scratch index; wall-clock time.
- **raw _bulk**: the same documents, built beforehand by the view's own queries (not timed), written with plain
  _bulk requests of the same size into another scratch index; only the _bulk calls are timed.
- **replay** (``--replay``): a sink runner (the production code, in-process) reads every event of the view's
  topics from the start with a fresh consumer group into a scratch index, until committed up to the end offsets.

The runs are interleaved (fill, raw, fill, raw, ... ``--repeat`` times) and the ratio fill docs/s : raw docs/s is
reported per repetition with its median. Scratch indices are deleted.

    .venv/bin/python -m benchmarks.backfill                    # on whatever the master holds now
    .venv/bin/python -m benchmarks.backfill --generate         # first add 10,000 meals x 200 locations
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # imported there, not re-exported
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from benchmarks.generate_dataset import generate
from farmacy.logs import configure_logging
from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from ops.bluegreen import fill
from ops.reconcile import projection
from sinks.bootstrap import ensure_topic, read_pool
from sinks.pipeline import Rebuilt, bulk_bodies, bulk_operations
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
    bench = dataclasses.replace(view, alias_name=f"bench-{view.name}")
    mapping = view.mapping
    es.indices.create(
        index=f"bench-replay-{view.index_name}",
        settings=mapping["settings"],
        mappings=mapping["mappings"],
        aliases={bench.alias: {"is_write_index": True}},
    )
    topics = [settings.topic(*t.split(".")) for t in view.tables]
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # OffsetSpec has no annotations
    metadata = admin.list_topics(timeout=10).topics
    partitions = [TopicPartition(t, p) for t in topics for p in metadata[t].partitions]
    ends = {
        (tp.topic, tp.partition): f.result().offset
        for tp, f in admin.list_offsets(dict.fromkeys(partitions, latest)).items()
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
            # The worker's consumer answers for its own group (the admin client's ListConsumerGroupOffsets can crash
            # in librdkafka when the group's coordinator moves).
            done = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=10)}
            if all(done.get(p, -1) >= end for p, end in ends.items()):
                break
        elapsed = time.perf_counter() - started
        runner.stop()
        thread.join(30)
    es.indices.delete(index=f"bench-replay-{view.index_name}")
    return events, elapsed


def fill_scratch(settings: Settings, es: Elasticsearch, view: View) -> tuple[int, float]:
    """The production backfill (ops.bluegreen.fill) into a scratch index: documents written, wall-clock seconds."""
    scratch = f"bench-fill-{view.index_name}"
    mapping = view.mapping
    es.indices.create(index=scratch, settings=mapping["settings"], mappings=mapping["mappings"])
    with read_pool(settings, f"bench-fill-{view.name}") as pool:
        started = time.perf_counter()
        docs = fill(pool, es, view, scratch, lambda _done, _total: None)
        elapsed = time.perf_counter() - started
    es.indices.delete(index=scratch)
    return docs, elapsed


def projected(settings: Settings, view: View) -> dict[str, dict[str, Any]]:
    with read_pool(settings, f"bench-raw-{view.name}") as pool:
        return projection(pool, view)


def raw_bulk(es: Elasticsearch, view: View, docs: dict[str, dict[str, Any]], batch_size: int) -> tuple[int, float]:
    """The same documents with plain _bulk requests, serialized beforehand; only the requests are timed (what
    Elasticsearch alone takes: the fill's time includes building and serializing)."""
    raw = f"bench-raw-{view.index_name}"
    mapping = view.mapping
    es.indices.create(index=raw, settings=mapping["settings"], mappings=mapping["mappings"])
    ids = sorted(docs)
    elapsed = 0.0
    for i in range(0, len(ids), batch_size):
        chunk: dict[str, dict[str, Any] | bytes] = {k: docs[k] for k in ids[i : i + batch_size]}
        ops = bulk_operations(raw, Rebuilt(lsn=1, docs=chunk, deleted=frozenset(), version=1))
        bodies = bulk_bodies(ops, 8 << 20)
        started = time.perf_counter()
        for body in bodies:
            es.bulk(operations=body)  # type: ignore[arg-type]
        elapsed += time.perf_counter() - started
    es.indices.delete(index=raw)
    return len(ids), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate", action="store_true", help="first generate a dataset (see its options)")
    parser.add_argument("--meals", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.025)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--view", action="append", help="only these views")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved fill / raw _bulk runs per view")
    parser.add_argument("--replay", action="store_true", help="also time a replay of every event from the start")
    args = parser.parse_args()
    settings = Settings()
    configure_logging("console", "WARNING")
    # The client of the production fill (`farmacy rebuild`): orjson reads the bulk responses.
    es = Elasticsearch(settings.elasticsearch_url, request_timeout=120, serializer=OrjsonSerializer())
    if args.generate:
        started = time.perf_counter()
        lsn = generate(settings, args.meals, args.locations, args.density, run=hex(int(time.time()))[2:])
        load_s = time.perf_counter() - started
        caught_up = wait_views(es, settings, lsn_int(lsn))
        print(f"load {load_s:.1f}s; the four running sinks caught up {caught_up:.1f}s after the load committed")
    index_stats(es)
    print(
        f"\n{'view':14s} {'run':>3s} {'docs':>7s} {'fill s':>7s} {'fill docs/s':>11s} | {'raw _bulk s':>11s} "
        f"{'raw docs/s':>10s} | {'fill/raw':>8s}"
    )
    for name in args.view or list(VIEWS):
        view = VIEWS[name]
        docs = projected(settings, view)
        if not docs:
            print(f"{name:14s} no documents in the master: nothing to compare")
            continue
        ratios = []
        for run in range(1, args.repeat + 1):
            filled, fill_s = fill_scratch(settings, es, view)
            written, bulk_s = raw_bulk(es, view, docs, args.batch_size)
            ratio = (filled / fill_s) / (written / bulk_s)
            ratios.append(ratio)
            print(
                f"{name:14s} {run:>3d} {filled:>7d} {fill_s:>7.1f} {filled / fill_s:>11.0f} | {bulk_s:>11.1f} "
                f"{written / bulk_s:>10.0f} | {ratio:>8.2f}"
            )
        print(
            f"{name:14s} fill/raw median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f},"
            f" {len(ratios)} runs)"
        )
        if args.replay:
            events, took = backfill(settings, es, view, args.batch_size)
            print(f"{name:14s} replay of {events} events from the start: {took:.1f}s, {events / took:.0f} events/s")
    es.close()


if __name__ == "__main__":
    main()
