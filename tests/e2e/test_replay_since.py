"""Replay from a point in time (`farmacy replay VIEW --since ...`): the view's consumer group is moved, on every
partition of every topic it reads, to the first record at or after that time; the worker re-reads from there,
the documents converge on the master and no version goes back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.control import view_partitions
from ops.reconcile import reconcile
from ops.replay import replay_view
from ops.status import view_status
from sinks.bootstrap import group_id, read_pool
from sinks.views import VIEWS
from tests.support.api import command_client, new_meal
from tests.support.commands import active_meal, adjust, stocked_location
from tests.support.console import farmacy_cli
from tests.support.views import current_lsn, es_client, version, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.close()


def _timestamp_at(stack: Settings, tp: TopicPartition) -> int | None:
    """The timestamp (ms) of the record at that offset, or None past the end."""
    consumer = Consumer(
        {"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"test-{time.time_ns()}", "enable.auto.commit": False}
    )
    try:
        consumer.assign([tp])
        msg = consumer.poll(10)
        return None if msg is None or msg.error() else int(msg.timestamp()[1])
    finally:
        consumer.close()


def test_replay_since_a_time_rereads_from_there_and_converges(
    stack: Settings, admin_token: str, es: Elasticsearch
) -> None:
    with command_client(stack, admin_token) as cmd:
        meals = [new_meal(cmd) for _ in range(3)]
        for meal in meals:
            assert cmd.post(f"/catalog/meals/{meal['id']}/publish").status_code == 200
        wait_applied(es, stack, current_lsn(stack), ["catalog"], timeout=60)
        time.sleep(1.5)  # records before the mark and after it are apart in time
        mark = datetime.now(UTC)
        time.sleep(1.5)
        for meal in meals:
            r = cmd.patch(f"/catalog/meals/{meal['id']}", json={"price_cents": 1111}, headers={"If-Match": '"2"'})
            assert r.status_code == 200, r.text
    wait_applied(es, stack, current_lsn(stack), ["catalog"], timeout=60)
    before = {m["id"]: version(es, "catalog", m["id"]) for m in meals}

    moved = replay_view(stack, "catalog", [], False, since=mark)

    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    every = {(tp.topic, tp.partition) for tp in view_partitions(stack, admin, "catalog")}
    assert {(tp.topic, tp.partition) for tp in moved} == every  # every partition of every topic of the view
    meals_topic = stack.topic("catalog", "meals")
    mark_ms = mark.timestamp() * 1000
    for tp in moved:
        at = _timestamp_at(stack, tp)
        assert at is None or at >= mark_ms, f"{tp.topic}[{tp.partition}]@{tp.offset} is older than the mark"
        if tp.offset > 0:
            previous = _timestamp_at(stack, TopicPartition(tp.topic, tp.partition, tp.offset - 1))
            assert previous is not None and previous < mark_ms, f"{tp.topic}[{tp.partition}] skipped records"
    # the meals' updates come after the mark: the group was moved back to re-read them
    assert any(tp.topic == meals_topic and _timestamp_at(stack, tp) is not None for tp in moved)

    wait_until(
        lambda: view_status(stack, es, admin, "catalog")["lag_total"] == 0, 120, "catalog to re-read", interval=0.5
    )
    wait_applied(es, stack, current_lsn(stack), ["catalog"], timeout=60)
    for meal in meals:
        was, after = before[meal["id"]], version(es, "catalog", meal["id"])
        assert was is not None and after is not None and after >= was, f"{meal['id']} went from {was} to {after}"
        assert es.get(index="catalog", id=meal["id"])["_source"]["price_cents"] == 1111
    with read_pool(stack, "replay-test") as pool:
        drift = reconcile(pool, es, VIEWS["catalog"])
    assert (drift.missing, drift.extra, drift.different) == ([], [], [])


def test_replay_since_a_duration_from_the_cli_moves_every_partition(stack: Settings, es: Elasticsearch) -> None:
    out = farmacy_cli(stack, "replay", "orders", "--since", "1h")
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    partitions = view_partitions(stack, admin, "orders")
    lines = [line for line in out.splitlines() if "-> offset" in line]
    assert len(lines) == len(partitions) > 0
    wait_applied(es, stack, current_lsn(stack), ["orders"], timeout=120)
    with read_pool(stack, "replay-test") as pool:
        assert reconcile(pool, es, VIEWS["orders"]).total == 0


def test_a_replay_rederives_even_the_changes_the_live_sink_skips(
    stack: Settings, admin_token: str, es: Elasticsearch
) -> None:
    """Live, a stock change that keeps its line's level (5 -> 8 units, available either way) rewrites no catalog
    document. A replay is for a view that lost something, so it re-derives every change it reads: with the meal's
    document gone from the view, replaying from before that change brings it back."""
    with command_client(stack, admin_token) as cmd:
        meal = active_meal(cmd)
        loc = stocked_location(cmd, {meal["id"]: 5})
        wait_applied(es, stack, current_lsn(stack), ["catalog"], timeout=60)
        written = es.get(index="catalog", id=meal["id"])["_source"]["indexed_at"]
        time.sleep(1.5)
        mark = datetime.now(UTC)
        time.sleep(1.5)
        adjust(cmd, loc["id"], meal["id"], 3, "replenish")
    wait_applied(es, stack, current_lsn(stack), ["catalog", "inventory"], timeout=60)
    assert es.get(index="catalog", id=meal["id"])["_source"]["indexed_at"] == written  # skipped live

    es.delete(index="catalog", id=meal["id"], refresh=True)  # the view loses the document
    moved = replay_view(stack, "catalog", [], False, since=mark)
    stock_topic = stack.topic("inventory", "stock")
    marked = [tp for tp in moved if tp.topic == stock_topic and tp.metadata]
    assert marked and all(str(tp.metadata).startswith("replay-until=") for tp in marked)

    wait_until(lambda: es.exists(index="catalog", id=meal["id"]).body, 120, "the replay to rebuild the meal", 0.5)
    doc = es.get(index="catalog", id=meal["id"])["_source"]
    assert [(a["location_id"], a["level"]) for a in doc["availability"]] == [(loc["id"], "available")]
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    wait_until(
        lambda: view_status(stack, es, admin, "catalog")["lag_total"] == 0, 120, "catalog to re-read", interval=0.5
    )
    committed = Consumer(
        {
            "bootstrap.servers": stack.kafka_bootstrap,
            "group.id": group_id(stack, "catalog"),
            "enable.auto.commit": False,
        }
    )
    try:
        after = committed.committed([TopicPartition(tp.topic, tp.partition) for tp in marked], 10)
    finally:
        committed.close()
    assert all(not tp.metadata for tp in after), "a replay's mark outlived the replay"
