"""Invariants 1-3 under load: a randomized, concurrent workload across all contexts, then drain;
(the catalog and inventory views run two workers each over topic_partitions partitions here, so this is the
scale-out convergence check too);
reconciliation finds zero drift in every view. Then a range of every view's topics is replayed into the
workers (duplicates, old events after new): still zero drift, and no document's version ever went down."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.replay import replay_view
from sinks.views import VIEWS
from tests.support.stack import scaled
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.workload import (
    COMMANDS_PER_WORKER,
    WORKERS,
    assert_no_regression,
    assert_zero_drift,
    versions,
    workload,
)

pytestmark = pytest.mark.e2e
REPLAY_EVENTS = 3000  # the last this-many events of every topic of every view are replayed


@pytest.fixture(scope="module", autouse=True)
def two_workers(stack: Settings) -> Iterator[None]:
    with scaled(stack, ["inventory", "catalog"], 2):
        yield


@pytest.fixture(scope="module")
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.close()


def test_views_converge_after_a_concurrent_workload_and_after_a_replay(
    stack: Settings, admin_token: str, es: Elasticsearch
) -> None:
    seed = int(os.environ.get("FARMACY_CONVERGENCE_SEED", str(int(time.time()))))
    started = time.monotonic()
    world = asyncio.run(workload(stack, admin_token, seed))
    commands = sum(world.codes.values())
    print(f"\nworkload seed={seed}: {commands} commands in {time.monotonic() - started:.1f}s, statuses {world.codes}")
    assert commands >= WORKERS * COMMANDS_PER_WORKER * 0.8
    wait_applied(es, stack, current_lsn(stack), timeout=120)
    assert_zero_drift(stack, es)

    # Replay the last REPLAY_EVENTS events of every topic of every view into the workers.
    baseline = versions(es)
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    metadata = admin.list_topics(timeout=10)
    for view in VIEWS.values():
        topics = [stack.topic(*t.split(".")) for t in view.tables]
        # Every partition of every topic (the topics have stack.topic_partitions partitions).
        latest = {
            TopicPartition(t, p): OffsetSpec.latest()  # type: ignore[no-untyped-call]
            for t in topics
            for p in metadata.topics[t].partitions
        }
        assert len(latest) == len(topics) * stack.topic_partitions
        ends = admin.list_offsets(latest)
        starts = [f"{tp.topic}:{tp.partition}:{max(0, f.result().offset - REPLAY_EVENTS)}" for tp, f in ends.items()]
        replay_view(stack, view.name, starts, from_beginning=False)
    for _ in range(6):  # while the replay runs, nothing may go back
        assert_no_regression(baseline, versions(es))
        time.sleep(0.5)
    wait_applied(es, stack, current_lsn(stack), timeout=180)
    compared = assert_no_regression(baseline, versions(es))
    print(f"after replay: {compared} documents compared, none went back")
    assert_zero_drift(stack, es)
