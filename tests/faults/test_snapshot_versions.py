"""Versions respect visibility (ARCHITECTURE §4, invariant 8), shown in the window where WAL positions do not.

A transaction's commit record is written before the transaction becomes visible to new snapshots. Holding a
commit in exactly that window is deterministic with synchronous replication to a standby that never answers: the
commit record is flushed, then the backend waits for the standby before it leaves the proc array. A rebuild taken
meanwhile reads a WAL position past that commit yet does not see it; with WAL positions as versions, such a stale
rebuild could tie with or outrank a later one that sees the commit, and win whenever it lands last (a repair racing
the worker, two workers of one view). With versions derived from the snapshot it ranks strictly below.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from sinks.bootstrap import read_pool
from sinks.pipeline import Rebuilt, RootRefs, bulk_operations, read_bulk_response
from sinks.rebuild import rebuild
from sinks.views import VIEWS
from tests.support.commands import active_meal, client, stocked_location
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults

VIEW = VIEWS["inventory"]
INVENTORY_LINE = VIEW.kind_of("a/b")  # the kind of its stock-line documents
WRITER = "farmacy-visibility-test-writer"


@pytest.fixture
def scratch(stack: Settings) -> Iterator[tuple[Elasticsearch, list[str]]]:
    """Throwaway indices with the inventory mapping, so the running worker's writes do not mix in."""
    es = es_client(stack)
    created: list[str] = []
    yield es, created
    for name in created:
        es.indices.delete(index=name)
    es.close()


def _new_index(es: Elasticsearch, created: list[str]) -> str:
    name = f"race-{uuid.uuid4().hex[:12]}"
    mapping = VIEW.mapping
    es.indices.create(index=name, settings=mapping["settings"], mappings=mapping["mappings"])
    created.append(name)
    return name


def _on_hand(rebuilt: Rebuilt, location_id: str, meal_id: str) -> int:
    doc = rebuilt.docs[f"{location_id}/{meal_id}"]  # the stock line's own document
    assert isinstance(doc, dict)
    return int(doc["on_hand"])


def _commit_held_before_visibility(settings: Settings, location_id: str, meal_id: str) -> threading.Thread:
    def commit() -> None:
        with psycopg.connect(settings.pg_dsn, application_name=WRITER) as conn:
            conn.execute("SET synchronous_commit = on")
            conn.execute(
                "UPDATE inventory.stock SET on_hand = on_hand + 1, version = version + 1, updated_at = now() "
                "WHERE location_id = %s AND meal_id = %s",
                [location_id, meal_id],
            )
            conn.commit()

    thread = threading.Thread(target=commit, daemon=True)
    thread.start()
    return thread


def test_a_rebuild_that_misses_a_committed_change_never_outranks_one_that_sees_it(
    stack: Settings, admin_token: str, scratch: tuple[Elasticsearch, list[str]]
) -> None:
    es, created = scratch
    with client(stack, admin_token) as admin:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 3})
    refs = RootRefs.of({f"{loc['id']}/{meal['id']}"}, INVENTORY_LINE)
    with read_pool(stack, "visibility-test") as pool, psycopg.connect(stack.pg_dsn, autocommit=True) as dba:
        dba.execute("ALTER SYSTEM SET synchronous_standby_names = 'farmacy_visibility_test_never_answers'")
        dba.execute("SELECT pg_reload_conf()")
        try:
            writer = _commit_held_before_visibility(stack, loc["id"], meal["id"])

            def held_in_sync_rep() -> bool:
                row = dba.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND application_name = %s",
                    [WRITER],
                ).fetchone()
                return row is not None and int(row[0]) > 0

            wait_until(held_in_sync_rep, 10, "the commit to wait for the standby")
            row = dba.execute("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").fetchone()
            assert row is not None
            past_the_commit = int(row[0])
            stale = rebuild(pool, VIEW, refs)  # the commit record is written, the change not visible
        finally:
            dba.execute("ALTER SYSTEM RESET synchronous_standby_names")
            dba.execute("SELECT pg_reload_conf()")
        writer.join(10)
        assert not writer.is_alive()
        fresh = rebuild(pool, VIEW, refs)

    assert _on_hand(stale, loc["id"], meal["id"]) == 3 and _on_hand(fresh, loc["id"], meal["id"]) == 4
    # The hazard is real: the stale rebuild read a WAL position at or past a commit it does not see.
    assert stale.lsn >= past_the_commit
    # ... and versions from the snapshot rank it strictly below the rebuild that sees the change.
    assert fresh.version > stale.version
    # Whichever writer lands last, the newest data wins.
    for first, last in ((stale, fresh), (fresh, stale)):
        index = _new_index(es, created)
        for rebuilt in (first, last):
            read_bulk_response(dict(es.bulk(operations=bulk_operations(index, rebuilt), refresh=True).body))
        stored = es.get(index=index, id=f"{loc['id']}/{meal['id']}")["_source"]
        assert stored["on_hand"] == 4
    # The running worker got the change's event while it was not yet visible: it waited instead of rebuilding a
    # document without it, so the view ends with the change.
    wait_applied(es, stack, current_lsn(stack), ["inventory"], timeout=60)
    stored_view = es.get(index="inventory", id=f"{loc['id']}/{meal['id']}")["_source"]
    assert stored_view["on_hand"] == 4
    print(
        f"\nvisibility: stale rebuild at WAL {stale.lsn} (commit record at or before {past_the_commit}) version "
        f"{stale.version}; fresh rebuild version {fresh.version}"
    )
