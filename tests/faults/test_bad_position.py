"""Fault: an event with a valid key and an impossible WAL position (far beyond the database's) in a shared topic.

It used to be retried forever as "snapshot behind event" (an outage), wedging inventory and catalog, and every
replay from the beginning wedged again. A position beyond the database's WAL insert position is poison: it is
dead-lettered (once per view, even when replayed), and the views keep moving.
"""

from __future__ import annotations

import json
import time

import pytest
from confluent_kafka import Producer

from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from ops.dead_letters import discard
from ops.replay import replay_view
from tests.faults.support import dead_letter_counts, drift
from tests.support.commands import active_meal, adjust, client, stocked_location
from tests.support.views import es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults

IMPOSSIBLE_LSN = 2**62
READERS = ("inventory", "catalog")  # both read inventory.stock


def test_impossible_position_is_dead_lettered_once_and_the_views_keep_moving(stack: Settings, admin_token: str) -> None:
    es = es_client(stack)
    with client(stack, admin_token) as admin:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 2})
        before = dead_letter_counts(stack)
        key = json.dumps({"location_id": loc["id"], "meal_id": meal["id"]}).encode()
        value = json.dumps({"op": "u", "source": {"lsn": IMPOSSIBLE_LSN, "txId": 1}, "ts_ms": 0}).encode()
        producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
        producer.produce(stack.topic("inventory", "stock"), key=key, value=value)
        assert producer.flush(10) == 0
        started = time.monotonic()

        def poisoned() -> bool:
            now = dead_letter_counts(stack)
            return all(now[v] == before[v] + 1 for v in READERS)

        wait_until(poisoned, 120, "the impossible position dead-lettered by inventory and catalog", interval=0.5)
        dead_lettered_s = time.monotonic() - started
        # The views keep moving: a real write after the poison is applied.
        token = adjust(admin, loc["id"], meal["id"], 1, "replenish")["consistency_token"]
        wait_applied(es, stack, token, list(READERS), timeout=60)

        # Replaying from the beginning neither wedges nor records the same poison again.
        for view in READERS:
            replay_view(stack, view, [], from_beginning=True)
        token = adjust(admin, loc["id"], meal["id"], 1, "replenish")["consistency_token"]
        replay_started = time.monotonic()
        wait_applied(es, stack, token, list(READERS), timeout=180)
        replayed_s = time.monotonic() - replay_started
        print(
            f"\nimpossible position: dead-lettered in {dead_lettered_s:.1f}s; after replay from the beginning "
            f"the views applied a new write in {replayed_s:.1f}s; lsn {lsn_int(token)}"
        )
    after = dead_letter_counts(stack)
    assert {v: after[v] - before[v] for v in READERS} == dict.fromkeys(READERS, 1)
    assert drift(stack, es, list(READERS)) == dict.fromkeys(READERS, 0)
    es.close()
    for view in READERS:  # resolved: its hold never bound (the position is beyond any real one), now it is gone
        discard(stack, view)
