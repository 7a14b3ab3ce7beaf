from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from sinks.errors import PoisonEventError
from sinks.events import ChangeEvent
from sinks.pipeline import Rebuilt, bulk_operations, read_bulk_response, route
from sinks.views.inventory import VIEW as INVENTORY

L1, L2, M1 = (str(uuid.uuid4()) for _ in range(3))


def ev(table: str, key: dict[str, str], lsn: int | None = 10, op: str = "u") -> ChangeEvent:
    return ChangeEvent("farmacy." + table, 0, 0, table, key, op, lsn)


def test_root_row_change_maps_to_its_own_id() -> None:
    refs = route(INVENTORY, [ev("inventory.locations", {"id": L1})])
    assert refs.direct == {L1} and refs.lookups == {}


def test_child_row_change_maps_to_its_root_through_the_key() -> None:
    refs = route(INVENTORY, [ev("inventory.stock", {"location_id": L2, "meal_id": M1})])
    assert refs.direct == {L2}


def test_embedded_entity_change_becomes_a_lookup_for_fan_out() -> None:
    refs = route(INVENTORY, [ev("catalog.meals", {"id": M1})])
    assert refs.direct == set() and refs.lookups == {"catalog.meals": {M1}}


def test_delete_and_tombstone_map_to_the_same_root() -> None:
    refs = route(
        INVENTORY,
        [
            ev("inventory.stock", {"location_id": L1, "meal_id": M1}, op="d"),
            ev("inventory.stock", {"location_id": L1, "meal_id": M1}, lsn=None, op="tombstone"),
        ],
    )
    assert refs.direct == {L1}


def test_tables_outside_the_view_are_ignored() -> None:
    assert route(INVENTORY, [ev("platform.heartbeat", {"id": "1"})]).empty()


def test_max_lsn_is_the_newest_event_in_the_batch() -> None:
    refs = route(
        INVENTORY, [ev("inventory.locations", {"id": L1}, lsn=5), ev("inventory.locations", {"id": L2}, lsn=42)]
    )
    assert refs.max_lsn == 42


def test_non_uuid_root_key_is_poison() -> None:
    with pytest.raises(PoisonEventError):
        route(INVENTORY, [ev("inventory.locations", {"id": "not-a-uuid"})])


def test_bulk_operations_version_every_action_with_the_snapshot_lsn_external_gte() -> None:
    rebuilt = Rebuilt(lsn=777, docs={L1: {"name": "a"}}, deleted=frozenset({L2}))
    ops = bulk_operations("inventory", rebuilt, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert ops[0] == {"index": {"_index": "inventory", "_id": L1, "version": 777, "version_type": "external_gte"}}
    assert ops[1] == {"name": "a", "source_lsn": "0/309", "indexed_at": "2026-01-01T00:00:00+00:00"}
    assert ops[2] == {"delete": {"_index": "inventory", "_id": L2, "version": 777, "version_type": "external_gte"}}
    assert len(ops) == 3


def test_bulk_response_sorts_items_into_applied_stale_rejected_and_retryable() -> None:
    response = {
        "items": [
            {"index": {"_id": "a", "status": 201}},
            {"index": {"_id": "b", "status": 409, "error": {"type": "version_conflict_engine_exception"}}},
            {"delete": {"_id": "c", "status": 404}},
            {
                "index": {
                    "_id": "d",
                    "status": 400,
                    "error": {"type": "strict_dynamic_mapping_exception", "reason": "field x"},
                }
            },
            {"index": {"_id": "e", "status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        ]
    }
    outcome = read_bulk_response(response)
    assert outcome.applied == 2
    assert outcome.stale == 1
    assert set(outcome.rejected) == {"d"} and "strict_dynamic_mapping_exception" in outcome.rejected["d"]
    assert set(outcome.retryable) == {"e"}
