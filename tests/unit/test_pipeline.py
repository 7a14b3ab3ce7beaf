from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from sinks.errors import PoisonEventError
from sinks.events import ChangeEvent
from sinks.pipeline import Rebuilt, bulk_bodies, bulk_operations, read_bulk_response, route, snapshot_version
from sinks.views.inventory import VIEW as INVENTORY

L1, L2, M1 = (str(uuid.uuid4()) for _ in range(3))


def ev(table: str, key: dict[str, str], lsn: int | None = 10, op: str = "u") -> ChangeEvent:
    return ChangeEvent("farmacy." + table, 0, 0, table, key, op, lsn)


LOCATION, LINE = 0, 1  # the inventory view's kinds of document


def test_root_row_change_maps_to_its_own_id() -> None:
    refs = route(INVENTORY, [ev("inventory.locations", {"id": L1})])
    assert refs.direct == {LOCATION: {L1}} and refs.lookups == {}


def test_child_row_change_maps_to_its_own_line_and_its_root_through_the_key() -> None:
    refs = route(INVENTORY, [ev("inventory.stock", {"location_id": L2, "meal_id": M1})])
    assert refs.direct == {LOCATION: {L2}, LINE: {f"{L2}/{M1}"}}


def test_embedded_entity_change_becomes_a_lookup_for_fan_out() -> None:
    refs = route(INVENTORY, [ev("catalog.meals", {"id": M1})])
    assert refs.direct == {} and refs.lookups == {(LOCATION, "catalog.meals"): {M1}, (LINE, "catalog.meals"): {M1}}


def test_a_location_change_rewrites_the_location_document_only() -> None:
    refs = route(INVENTORY, [ev("inventory.locations", {"id": L1})])
    assert LINE not in refs.direct and not any(kind == LINE for kind, _ in refs.lookups)


def test_document_ids_tell_their_kind() -> None:
    assert INVENTORY.kind_of(L1) == LOCATION and INVENTORY.kind_of(f"{L1}/{M1}") == LINE
    assert INVENTORY.by_kind([L1, f"{L1}/{M1}", L2]) == {LOCATION: {L1, L2}, LINE: {f"{L1}/{M1}"}}
    with pytest.raises(ValueError, match="no document id"):
        INVENTORY.kind_of("a/b/c")


def test_delete_and_tombstone_map_to_the_same_root() -> None:
    refs = route(
        INVENTORY,
        [
            ev("inventory.stock", {"location_id": L1, "meal_id": M1}, op="d"),
            ev("inventory.stock", {"location_id": L1, "meal_id": M1}, lsn=None, op="tombstone"),
        ],
    )
    assert refs.direct == {LOCATION: {L1}, LINE: {f"{L1}/{M1}"}}


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


def test_bulk_operations_version_every_action_with_the_snapshot_version_external_gte() -> None:
    rebuilt = Rebuilt(lsn=777, docs={L1: {"name": "a"}}, deleted=frozenset({L2}), version=4242)
    ops = bulk_operations("inventory", rebuilt, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert ops[0] == {"index": {"_index": "inventory", "_id": L1, "version": 4242, "version_type": "external_gte"}}
    assert ops[1] == {"name": "a", "source_lsn": "0/309", "indexed_at": "2026-01-01T00:00:00+00:00"}
    assert ops[2] == {"delete": {"_index": "inventory", "_id": L2, "version": 4242, "version_type": "external_gte"}}
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


def test_a_later_snapshot_never_gets_a_lower_version() -> None:
    # xmax grows: higher, whatever is in progress.
    assert snapshot_version(1001, 50) > snapshot_version(1000, 0)
    # Same xmax: fewer transactions in progress means more of them visible, so higher.
    assert snapshot_version(1000, 2) > snapshot_version(1000, 3)
    # Same xmax, same in progress: the same visible data, the same version (a re-apply is a no-op).
    assert snapshot_version(1000, 3) == snapshot_version(1000, 3)
    # Above every WAL position an older release used as a version.
    assert snapshot_version(3, 0) > (1 << 40)


def test_bulk_response_refusals_of_the_store_are_outages_not_poison() -> None:
    def item(status: int, error_type: str, action: str = "index") -> dict[str, Any]:
        return {action: {"_id": error_type or str(status), "status": status, "error": {"type": error_type}}}

    response = {
        "items": [
            item(403, "cluster_block_exception"),  # index.blocks.write / read_only_allow_delete
            item(401, "security_exception"),
            item(429, "es_rejected_execution_exception"),
            item(503, "unavailable_shards_exception"),
            item(404, "index_not_found_exception", "delete"),
            item(400, "document_parsing_exception"),
            {"delete": {"_id": "gone", "status": 404, "result": "not_found"}},
        ]
    }
    outcome = read_bulk_response(response)
    assert set(outcome.retryable) == {
        "cluster_block_exception",
        "security_exception",
        "es_rejected_execution_exception",
        "unavailable_shards_exception",
    }
    assert set(outcome.deploy) == {"index_not_found_exception"}  # a delete into a missing index is not "done"
    assert set(outcome.rejected) == {"document_parsing_exception"}
    assert outcome.applied == 1  # deleting what is already gone


def test_bulk_bodies_cut_by_bytes_keep_each_action_with_its_document() -> None:
    rebuilt = Rebuilt(
        lsn=1, docs={f"d{i}": {"text": "x" * 100} for i in range(50)}, deleted=frozenset({"gone"}), version=7
    )
    ops = bulk_operations("inventory", rebuilt)
    bodies = bulk_bodies(ops, 1000)
    assert len(bodies) > 5 and all(len(b) <= 1000 for b in bodies)
    lines = [json.loads(line) for b in bodies for line in b.decode().splitlines()]
    assert lines == ops  # the same actions and documents, in order, nothing split from its action
    assert bulk_bodies(ops, 1 << 20) == [b"".join(bodies)]


def test_documents_kept_as_json_text_get_the_same_members_as_parsed_ones() -> None:
    built: dict[str, dict[str, Any] | bytes] = {
        "a": b'{"name": "Soup", "tags": ["x"]}',
        "b": {"name": "Stew", "tags": ["y"]},
        "c": b"{}",
    }
    rebuilt = Rebuilt(lsn=0x1A2B, docs=built, deleted=frozenset(), version=3)
    now = datetime(2026, 1, 2, tzinfo=UTC)
    lines = [json.loads(line) for line in bulk_bodies(bulk_operations("v1", rebuilt, now), 1 << 20)[0].splitlines()]
    docs = {lines[i]["index"]["_id"]: lines[i + 1] for i in range(0, len(lines), 2)}
    stamp = {"source_lsn": "0/1A2B", "indexed_at": now.isoformat()}
    assert docs == {
        "a": {"name": "Soup", "tags": ["x"], **stamp},
        "b": {"name": "Stew", "tags": ["y"], **stamp},
        "c": stamp,
    }


def test_json_text_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        bulk_operations("v1", Rebuilt(lsn=1, docs={"a": b"[1, 2]"}, deleted=frozenset(), version=1))
