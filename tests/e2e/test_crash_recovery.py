"""Crashes lose nothing: while a concurrent workload runs, sink workers and Kafka Connect are killed with
SIGKILL (no clean shutdown, so batches die between _bulk and offset commit, and Debezium between producing
and committing its offsets). supervisord restarts them; after the pipeline drains, every view equals the
master and no document went back to an older version."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from functools import partial

import pytest
from elasticsearch import Elasticsearch

from farmacy.connect import ConnectClient
from farmacy.settings import Settings
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until
from tests.support.workload import World, assert_no_regression, assert_zero_drift, versions, workload

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.close()


def _restarted(sup: Supervisor, program: str, old_pid: int) -> bool:
    info = sup.info(program)
    state: str = info["statename"]
    pid: int = info["pid"]
    return state == "RUNNING" and pid != old_pid


def test_killed_sinks_and_connect_recover_without_loss(stack: Settings, admin_token: str, es: Elasticsearch) -> None:
    sup = Supervisor(layout_for(stack))
    baseline = versions(es)
    result: list[World] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(workload(stack, admin_token, seed=7))))
    worker.start()
    killed: list[tuple[str, int]] = []
    for delay, program in ((2, "sink-catalog"), (1, "sink-inventory"), (1, "connect"), (2, "sink-orders")):
        time.sleep(delay)
        pid = sup.info(program)["pid"]
        sup.kill(program)
        killed.append((program, pid))
    worker.join()
    assert result, "the workload failed"
    print(f"\nkilled {killed}; workload statuses {result[0].codes}")
    for program, pid in killed:
        wait_until(partial(_restarted, sup, program, pid), 60, f"{program} restarted")
    client = ConnectClient(stack.connect_urls)
    try:
        client.wait_running(stack.connector_name, timeout=120)
    finally:
        client.close()
    wait_applied(es, stack, current_lsn(stack), timeout=180)
    compared = assert_no_regression(baseline, versions(es))
    print(f"{compared} documents compared, none went back")
    assert_zero_drift(stack, es)
