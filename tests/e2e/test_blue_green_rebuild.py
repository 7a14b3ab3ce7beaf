"""Blue/green rebuild: a view is refilled into a new index and its alias swapped atomically, while queries
keep being answered; afterwards the view has zero drift and keeps applying new writes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from farmacy.settings import Settings
from ops.bluegreen import current_index
from ops.reconcile import reconcile
from sinks.bootstrap import read_pool
from sinks.views import VIEWS
from tests.support.api import command_client, query_client
from tests.support.views import es_client, wait_applied

pytestmark = pytest.mark.e2e
FARMACY = str(Path(sys.executable).parent / "farmacy")


def test_rebuild_swaps_the_alias_without_downtime_and_converges(stack: Settings, admin_token: str) -> None:
    es = es_client(stack)
    old = current_index(es, "subscriptions")
    assert old is not None, "the subscriptions alias points at an index before the rebuild"
    statuses: list[int] = []
    done = threading.Event()

    def keep_querying() -> None:
        with query_client(stack, admin_token) as query:
            while not done.is_set():
                statuses.append(query.get("/subscriptions", params={"size": 5}).status_code)

    reader = threading.Thread(target=keep_querying)
    reader.start()
    try:
        result = subprocess.run(
            [FARMACY, "rebuild", "subscriptions", "--yes"], capture_output=True, text=True, timeout=300
        )
    finally:
        done.set()
        reader.join()
    assert result.returncode == 0, result.stdout + result.stderr
    new = current_index(es, "subscriptions")
    assert new is not None and new != old
    assert not es.indices.exists(index=old)
    assert len(statuses) > 10 and set(statuses) == {200}, f"{len(statuses)} reads, statuses {set(statuses)}"

    with read_pool(stack, "rebuild-test") as pool:
        drift = reconcile(pool, es, VIEWS["subscriptions"])
    assert (drift.missing, drift.extra, drift.different) == ([], [], [])

    with command_client(stack, admin_token) as cmd:
        plan = cmd.post(
            "/subscription/plans",
            json={"code": f"bg-{new[-10:]}", "name": "After rebuild", "meals_per_week": 2, "price_cents": 100},
        )
        assert plan.status_code == 201, plan.text
    wait_applied(es, stack, plan.headers["X-Consistency-Token"], ["subscriptions"])
    es.close()
