"""An operator starts an incremental snapshot through the signaling table; Debezium re-emits every row of
the table as a read event while streaming goes on."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from confluent_kafka import Consumer

from farmacy.settings import Settings
from ops.snapshots import request_incremental_snapshot
from tests.support.topics import assign_at_end
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


def test_incremental_snapshot_re_emits_every_row_of_the_table(stack: Settings) -> None:
    topic = stack.topic("subscription", "plans")
    with psycopg.connect(stack.pg_dsn) as conn:
        plan_ids = {str(r[0]) for r in conn.execute("SELECT id FROM subscription.plans")}
    assert plan_ids, "the demo seed creates plans"
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"test-{uuid.uuid4()}"})
    assign_at_end(consumer, topic)
    request_incremental_snapshot(stack, ["subscription.plans"])
    seen: set[str] = set()

    def all_read() -> bool:
        while (msg := consumer.poll(0.5)) is not None:
            if msg.error() is None and (value := msg.value()):
                event = json.loads(value)
                if event["op"] == "r":
                    seen.add(event["after"]["id"])
        return plan_ids <= seen

    try:
        wait_until(all_read, 60, "every plan re-emitted as a read event")
    finally:
        consumer.close()


def test_snapshot_of_a_table_that_is_not_captured_is_refused(stack: Settings) -> None:
    with pytest.raises(ValueError, match="not captured"):
        request_incremental_snapshot(stack, ["inventory.adjustments"])
