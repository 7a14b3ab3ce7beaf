"""Re-drive reaches only the view it came from.

Re-driven dead letters used to go back to the shared source topics, where every other view reading that topic
dead-lettered them again. Now they go to the view's own re-drive topic: re-driving one view's dead letters changes
no other view's dead-letter count, and a re-driven event that is still poison is recorded again only by that view.
"""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer

from farmacy.settings import Settings
from ops.dead_letters import discard, redrive
from tests.faults.support import dead_letter_counts, drift
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults


def test_redrive_of_one_view_changes_no_other_views_dead_letters(stack: Settings) -> None:
    views = list(stack.views)  # every view reads inventory.locations
    before = dead_letter_counts(stack)
    key = json.dumps({"id": f"not-a-uuid-{uuid.uuid4().hex}"}).encode()
    value = json.dumps({"op": "u", "source": {"lsn": current_lsn(stack)}}).encode()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(stack.topic("inventory", "locations"), key=key, value=value)
    assert producer.flush(10) == 0

    def dead_lettered_by_every_view() -> bool:
        now = dead_letter_counts(stack)
        return all(now[v] == before[v] + 1 for v in views)

    wait_until(dead_lettered_by_every_view, 60, "the poison event dead-lettered once by every view", interval=0.5)
    try:
        poisoned = dead_letter_counts(stack)
        assert redrive(stack, "inventory") >= 1

        def inventory_recorded_it_again() -> bool:
            return dead_letter_counts(stack)["inventory"] > poisoned["inventory"]

        wait_until(inventory_recorded_it_again, 60, "the re-driven poison dead-lettered again by inventory only")
        after = dead_letter_counts(stack)
        print(f"\nre-drive of inventory: dead letters {poisoned} -> {after}")
        assert {v: after[v] - poisoned[v] for v in views if v != "inventory"} == {
            v: 0 for v in views if v != "inventory"
        }
    finally:
        for view in views:
            discard(stack, view)
    es = es_client(stack)
    wait_applied(es, stack, current_lsn(stack), views)  # resolved: every view publishes again
    assert drift(stack, es) == dict.fromkeys(views, 0)
    es.close()
