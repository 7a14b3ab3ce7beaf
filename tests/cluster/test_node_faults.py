"""The cluster profile (`bin/farmacy up --profile cluster`) under node faults, with writes flowing.

One at a time, each SIGKILLed and kept down: the Kafka broker leading the inventory topic's first partition, the
Elasticsearch data node holding that view's primary shard, and the Kafka Connect worker running the capture task.
While it is down every view must reach the position written after the kill (the survivors take over); then it
is started again and must rejoin. At the end nothing may have drifted from the master, no document's version may
have gone down, nothing may have been dead-lettered, and no write may have failed.

Run with `bin/farmacy --profile cluster test tests/cluster` (the README's test command runs the single-node
profile, where these tests are deselected).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import cast

import httpx
import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from farmacy.connect import ConnectClient
from farmacy.settings import NODE_PORT_STRIDE, Profile, Settings
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor
from tests.faults.support import Writer, dead_letter_counts, drift
from tests.support.supervisor_log import ExitWatch
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until
from tests.support.workload import assert_no_regression, versions, workload

pytestmark = pytest.mark.cluster

# Writes keep flowing this long after a kill before the position every view must reach is taken.
AFTER_KILL_S = 5.0


def _broker_leading(stack: Settings, topic: str) -> int:
    """The 0-based index of the broker that leads the topic's partition 0."""
    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    leader = admin.list_topics(topic, timeout=10).topics[topic].partitions[0].leader
    return int(leader) - 1  # node ids are 1-based (stack/render.py)


def _es_node_with_primary(stack: Settings, es: Elasticsearch, view: str) -> tuple[int, int]:
    """The data node holding the view's primary shard: its index among the nodes and its JVM's pid."""
    shards = cast(list[dict[str, str]], es.cat.shards(index=view, format="json", h="prirep,node").body)
    name = next(s["node"] for s in shards if s["prirep"] == "p")
    for i in range(stack.elasticsearch_nodes):
        info = httpx.get(f"http://127.0.0.1:{stack.elasticsearch_port + i}/_nodes/_local/process", timeout=10).json()
        node = next(iter(info["nodes"].values()))
        if node["name"] == name:
            return i, int(node["process"]["id"])
    raise AssertionError(f"no local node is named {name}")


def _connect_worker_with_task(stack: Settings) -> int:
    client = ConnectClient(stack.connect_urls)
    try:
        status = client.status(stack.connector_name)
    finally:
        client.close()
    assert status is not None
    port = int(status["tasks"][0]["worker_id"].rsplit(":", 1)[1])
    return (port - stack.connect_port) // NODE_PORT_STRIDE


def _survive(
    stack: Settings,
    es: Elasticsearch,
    sup: Supervisor,
    exits: ExitWatch,
    member: str,
    kill: Callable[[], None],
    back: Callable[[], bool],
) -> tuple[float, float]:
    """SIGKILLs a node and keeps it down (its supervisor does not restart it), waits for every view to apply what
    was written AFTER_KILL_S after the kill, then starts the node again and waits until it has rejoined.
    Returns (seconds from the kill until every view applied, seconds from the restart until rejoined)."""
    exits.expect(member)  # its exits are this test's doing; any other process's fails the test
    kill()
    sup.stop(member)  # no automatic restart: the survivors must carry on alone
    killed_at = time.monotonic()
    time.sleep(AFTER_KILL_S)
    position = current_lsn(stack)
    wait_applied(es, stack, position, list(stack.views), timeout=240)
    applied_s = time.monotonic() - killed_at
    assert sup.info(member)["statename"] != "RUNNING", f"{member} came back before the views had caught up"
    sup.start(member)
    started_at = time.monotonic()
    wait_until(back, 300, f"{member} back", interval=1)
    return applied_s, time.monotonic() - started_at


def test_one_broker_one_elasticsearch_node_one_connect_worker_killed_under_writes(
    stack: Settings, admin_token: str, exits: ExitWatch
) -> None:
    assert stack.profile is Profile.CLUSTER, "run with `bin/farmacy --profile cluster test tests/cluster`"
    sup = Supervisor(layout_for(stack))
    es = es_client(stack)
    dead_before = dead_letter_counts(stack)
    results: dict[str, tuple[float, float]] = {}
    # Documents in every view whose versions can be watched: the randomized workload of the convergence test.
    world = asyncio.run(workload(stack, admin_token, seed=12))
    with Writer(stack, admin_token, interval=0.05) as writer:
        time.sleep(3)
        wait_applied(es, stack, current_lsn(stack), list(stack.views), timeout=120)
        baseline = versions(es)

        broker = _broker_leading(stack, stack.topic("inventory", "stock"))
        member = f"kafka:kafka-{broker}"
        results[f"Kafka broker {broker + 1} (leader of inventory.stock partition 0)"] = _survive(
            stack, es, sup, exits, member, lambda: sup.kill(member), lambda: _brokers(stack) == stack.kafka_brokers
        )

        node, pid = _es_node_with_primary(stack, es, "inventory")
        member = f"elasticsearch:elasticsearch-{node}"
        results[f"Elasticsearch data node {node + 1} (inventory's primary shard)"] = _survive(
            stack, es, sup, exits, member, lambda: os.kill(pid, signal.SIGKILL), lambda: _es_green(stack)
        )

        worker = _connect_worker_with_task(stack)
        member = f"connect:connect-{worker}"
        results[f"Kafka Connect worker {worker + 1} (running the capture task)"] = _survive(
            stack, es, sup, exits, member, lambda: sup.kill(member), lambda: _connect_running(stack)
        )
        time.sleep(2)
    wait_applied(es, stack, current_lsn(stack), list(stack.views), timeout=120)
    compared = assert_no_regression(baseline, versions(es))
    drifted = drift(stack, es)
    dead_after = dead_letter_counts(stack)
    es.close()
    print("\ncluster profile, one node at a time SIGKILLed and kept down under writes:")
    for what, (applied_s, back_s) in results.items():
        print(
            f"  {what}: every view at the post-kill position {applied_s:.1f} s after the kill, with it down; "
            f"rejoined {back_s:.1f} s after its restart"
        )
    print(
        f"workload {world.codes}; writes {writer.codes}; {compared} documents compared, none went back; drift {drifted}"
    )
    assert compared >= 100, f"only {compared} documents to check for regressions"
    assert sum(n for code, n in writer.codes.items() if code >= 500 or code == 0) == 0, writer.codes
    assert drifted == dict.fromkeys(stack.views, 0)
    assert dead_after == dead_before


def _brokers(stack: Settings) -> int:
    try:
        md = AdminClient({"bootstrap.servers": stack.kafka_bootstrap}).list_topics(timeout=5)
    except Exception:  # not answering counts as not back yet
        return 0
    return len(md.brokers)


def _es_green(stack: Settings) -> bool:
    for url in stack.elasticsearch_urls:
        try:
            body = httpx.get(f"{url}/_cluster/health", timeout=5).json()
        except httpx.HTTPError:
            continue
        return bool(body["status"] == "green" and body["number_of_data_nodes"] == stack.elasticsearch_nodes)
    return False


def _connect_running(stack: Settings) -> bool:
    client = ConnectClient(stack.connect_urls, timeout=5)
    try:
        status = client.status(stack.connector_name)
        workers = {t["worker_id"] for t in (status or {}).get("tasks", [])}
        alive = sum(1 for url in stack.connect_urls if _answers(url))
    except httpx.HTTPError:
        return False
    finally:
        client.close()
    return bool(status and status["connector"]["state"] == "RUNNING" and workers and alive == stack.connect_workers)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
