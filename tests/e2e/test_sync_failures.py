"""Invariant 4: a poison event goes, after bounded retries, to the dead-letter topic with its error, and the
view keeps moving. Invariant 7: the dead letter holds the view's published position (a token read waits or gets
503, never a stale 200) until an operator resolves it; then the view publishes again."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from ops.dead_letters import discard
from sinks.events import dict_headers
from tests.support.api import command_client, query_client
from tests.support.views import applied, doc, es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e


def test_poison_event_is_dead_lettered_with_its_error_and_the_view_keeps_moving(
    stack: Settings, admin_token: str
) -> None:
    dlq = f"{stack.topic_prefix}.dlq.inventory"
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"test-{uuid.uuid4()}"})
    _low, high = consumer.get_watermark_offsets(TopicPartition(dlq, 0), timeout=10)
    consumer.assign([TopicPartition(dlq, 0, high)])
    marker = uuid.uuid4().hex
    poison_key = json.dumps({"id": f"not-a-uuid-{marker}"}).encode()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    producer.produce(stack.topic("inventory", "locations"), key=poison_key, value=b'{"op": "u", "source": {"lsn": 1}}')
    producer.produce(stack.topic("inventory", "locations"), key=b'{"id": "x"}', value=b"\x00not json")
    assert producer.flush(10) == 0
    try:
        seen: list[tuple[bytes | None, dict[str, str]]] = []

        def two_dead_letters() -> bool:
            while (msg := consumer.poll(0.5)) is not None:
                if msg.error() is None:
                    seen.append((msg.key(), dict_headers(msg)))
            return len(seen) >= 2

        wait_until(two_dead_letters, 60, "two dead letters")
        by_key = {k: h for k, h in seen}
        headers = by_key[poison_key]
        assert headers["dlq.view"] == "inventory"
        assert headers["dlq.topic"] == stack.topic("inventory", "locations")
        assert headers["dlq.error.class"] == "PoisonEventError"
        assert "is not a UUID" in headers["dlq.error"]
        assert "not JSON" in by_key[b'{"id": "x"}']["dlq.error"]
    finally:
        consumer.close()

    # ... and the view still applies new writes, but does not publish past the unresolved dead letters.
    es = es_client(stack)
    with command_client(stack, admin_token) as cmd, query_client(stack, admin_token) as query:
        r = cmd.post(
            "/locations",
            json={
                "code": f"DLQ-{marker[:10].upper()}",
                "name": "After Poison",
                "kind": "kiosk",
                "city": "X",
                "latitude": 1,
                "longitude": 1,
            },
        )
        assert r.status_code == 201
        token = r.headers["X-Consistency-Token"]
        location_id = r.json()["id"]

        def applied_doc() -> dict[str, object] | None:
            return doc(es, "inventory", location_id)

        assert wait_until(applied_doc, 30, "the new location in the inventory view")["name"] == "After Poison"
        assert applied(es, stack, "inventory") < lsn_int(token)
        held = query.get(f"/inventory/locations/{location_id}", headers={"X-Consistency-Token": token})
        assert held.status_code == 503, held.text

        # An operator resolves the dead letters: the holds are released and the view publishes again. Every view
        # reads inventory.locations, so each dead-lettered the two events; each is resolved.
        assert all(discard(stack, view) >= 2 for view in stack.views)
        wait_applied(es, stack, token)
        fresh = query.get(f"/inventory/locations/{location_id}", headers={"X-Consistency-Token": token})
        assert fresh.status_code == 200 and fresh.json()["name"] == "After Poison"
    es.close()
