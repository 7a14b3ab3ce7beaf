"""Changing a view while it serves (docs/changing-a-view.md), on the real stack, under 100 stock changes/s and 20
catalog searches/s with consistency-token reads of a probe meal throughout:

- the spice level end to end: from the previous release's state (schema 0004, the catalog on an index of mapping
  version 2), the migration, the command API's field, `farmacy rollout catalog` and the query filter; then
  `farmacy rollback catalog` and forward again; no failed search, no stale token read, no dead letter, no drift;
- a column renamed through expand/contract while it is written: every change captured, no connector restart;
- a change the pre-flight refuses (a field changing its type, a column the master lacks), by name, writing nothing.

It leaves the stack as shipped: schema at head, the catalog on a fresh index of the current mapping, nothing kept.
The time from the rollout command to the new field being searchable is printed (not asserted).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from alembic import command
from confluent_kafka import Consumer, TopicPartition
from elasticsearch import Elasticsearch

from farmacy.migrations import alembic_config
from farmacy.settings import Settings
from ops.bluegreen import current_index
from ops.rollout import PreflightError, previous_alias, rollout_view
from sinks.indices import index_settings
from sinks.view import View
from sinks.views import VIEWS
from tests.faults.support import dead_letter_counts, drift
from tests.support.api import command_client, query_client
from tests.support.commands import active_meal, assert_problem, created, fetch_all, stocked_location
from tests.support.live_load import LiveLoad
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
FARMACY = str(Path(sys.executable).parent / "farmacy")
CATALOG = VIEWS["catalog"]
CLI_TIMEOUT_S = 600


def farmacy(*args: str) -> str:
    result = subprocess.run([FARMACY, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
    assert result.returncode == 0, f"farmacy {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def connector_task_starts(stack: Settings) -> int:
    """Times the capture task was started, from Kafka Connect's log and its rotated parts (a restart logs it again)."""
    logs = (stack.stack_dir / "logs").glob("connect.log*")
    return sum(log.read_text(errors="replace").count("Starting PostgresConnectorTask") for log in logs)


def load_rows(stack: Settings, probe: tuple[str, str]) -> list[tuple[str, str]]:
    """Stock rows for the plain changes: any but the probe's location (the probe's level is the token reads' own)."""
    rows = fetch_all(
        stack,
        "SELECT location_id::text, meal_id::text FROM inventory.stock WHERE location_id <> %s "
        "ORDER BY random() LIMIT 300",
        [probe[0]],
    )
    return [(str(r[0]), str(r[1])) for r in rows]


@pytest.fixture
def probe(stack: Settings, admin_token: str) -> tuple[str, str]:
    """An active meal stocked at an online fridge of its own: the row whose level the token reads flip."""
    with command_client(stack, admin_token) as admin:
        meal = active_meal(admin, name=f"Probe Chili {uuid.uuid4().hex[:6]}")
        loc = stocked_location(admin, {meal["id"]: 6})
    return loc["id"], meal["id"]


def previous_mapping() -> dict[str, Any]:
    """The catalog's mapping before the spice level (version 2)."""
    mapping = copy.deepcopy(CATALOG.mapping)
    del mapping["mappings"]["properties"]["spice_level"]
    mapping["mappings"]["_meta"]["index_version"] = 2
    return mapping


def to_previous_release(stack: Settings, es: Elasticsearch) -> str:
    """The state before the change: the catalog served by an index of mapping version 2 (created empty, kept as the
    previous version, then made live by `farmacy rollback`, which fills it), nothing else kept, and the schema at
    0004. Returns that index."""
    mapping = previous_mapping()
    index = f"catalog-v2-{datetime.now(UTC):%Y%m%d%H%M%S}"
    es.indices.create(
        index=index, settings=index_settings(mapping["settings"], stack.view_replicas), mappings=mapping["mappings"]
    )
    es.indices.update_aliases(actions=[{"add": {"index": index, "alias": previous_alias(CATALOG)}}])
    farmacy("rollback", "catalog", "--yes")
    farmacy("rollout", "catalog", "--finish", "--yes")
    assert current_index(es, "catalog") == index
    command.downgrade(alembic_config(stack), "0004")
    return index


def searchable(stack: Settings, name: str) -> bool:
    with query_client(stack) as query:
        r = query.get("/catalog/meals", params={"q": name, "spice_level_min": 4})
    return r.status_code == 200 and any(item["name"] == name for item in r.json()["items"])


def assert_clean(stack: Settings, es: Elasticsearch, load: LiveLoad, letters_before: dict[str, int]) -> None:
    wait_applied(es, stack, current_lsn(stack), ["catalog", "inventory"], timeout=180)
    counts = load.counts
    print(f"\nload: {counts.summary()}")
    assert counts.stock_changes > 0 and counts.searches > 0 and load.fresh_reads() > 0, counts.summary()
    assert not counts.write_errors, counts.write_errors[:3]
    assert counts.failed_searches == [], counts.failed_searches[:3]
    assert counts.token_reads["stale"] == 0 and counts.token_reads["failed"] == 0, counts.stale
    assert dead_letter_counts(stack) == letters_before
    assert drift(stack, es, ["catalog", "inventory"]) == {"catalog": 0, "inventory": 0}


def test_a_new_filterable_field_rolls_out_and_back_under_load(
    stack: Settings, admin_token: str, probe: tuple[str, str]
) -> None:
    es = es_client(stack)
    letters_before = dead_letter_counts(stack)
    starts_before = connector_task_starts(stack)
    previous = to_previous_release(stack, es)
    name = f"Ghost Pepper Stew {uuid.uuid4().hex[:6]}"
    with LiveLoad(stack, load_rows(stack, probe), probe) as load, command_client(stack, admin_token) as admin:
        # 1. expand: the migration runs while the load writes and reads
        load.phase = "migration"
        command.upgrade(alembic_config(stack), "head")
        # 2. the command API takes the field, and refuses a bad value by name
        assert_problem(
            admin.post("/catalog/meals", json={"name": "Too hot", "calories": 1, "price_cents": 1, "spice_level": 6}),
            422,
            "spice_level",
            rule="less_than_equal",
        )
        meal = active_meal(admin, name=name, spice_level=4)
        assert meal["spice_level"] == 4
        created(admin.post("/inventory/adjustments", json={**_stock(probe[0], meal["id"]), "delta": 3}))
        wait_until(lambda: load.fresh_reads() >= 3, 120, "token reads answered fresh after the migration", 0.2)
        # 3. one command rolls the catalog forward; the field is searchable once it returns
        load.phase = "rollout"
        started = time.monotonic()
        out = farmacy("rollout", "catalog", "--yes")
        wait_until(lambda: searchable(stack, name), 60, f"{name} found by spice_level_min=4", 0.1)
        print(f"\nrollout: searchable {time.monotonic() - started:.1f}s after the command started; {out.strip()}")
        rolled = current_index(es, "catalog")
        assert rolled is not None and rolled != previous
        assert current_index(es, previous_alias(CATALOG)) == previous
        load.phase = "after rollout"
        fresh = load.fresh_reads()
        wait_until(lambda: load.fresh_reads() >= fresh + 3, 120, "fresh token reads after the rollout", 0.2)
        # 4. rollback in one command: the kept version caught up, then live, and written by the worker again
        load.phase = "rollback"
        out = farmacy("rollback", "catalog", "--yes")
        print(f"rollback: {out.strip().splitlines()[-1]}")
        load.phase = "after rollback"
        assert current_index(es, "catalog") == previous
        assert current_index(es, previous_alias(CATALOG)) == rolled
        fresh = load.fresh_reads()
        wait_until(lambda: load.fresh_reads() >= fresh + 3, 120, "fresh token reads after the rollback", 0.2)
        assert not searchable(stack, name), "the previous version has no spice level to filter on"
        # 5. forward again, and the rollback window closed: the shipped state
        load.phase = "rollout again"
        farmacy("rollout", "catalog", "--yes")
        load.phase = "after rollout again"
        wait_until(lambda: searchable(stack, name), 60, f"{name} found again after rolling forward", 0.1)
        farmacy("rollout", "catalog", "--finish", "--yes")
        fresh = load.fresh_reads()
        wait_until(lambda: load.fresh_reads() >= fresh + 3, 120, "fresh token reads after rolling forward", 0.2)
    assert not es.indices.exists(index=previous) and not es.indices.exists(index=rolled)
    assert current_index(es, previous_alias(CATALOG)) is None
    assert connector_task_starts(stack) == starts_before, "the capture task was restarted"
    assert_clean(stack, es, load, letters_before)
    es.close()


def _stock(location_id: str, meal_id: str) -> dict[str, Any]:
    return {"location_id": location_id, "meal_id": meal_id, "reason": "replenish"}


# -- a rename through expand/contract ------------------------------------------------------------------------
@dataclass
class Renamed:
    old: str
    new: str
    written: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)  # (meal, version) -> column, value


def _write_column(conn: psycopg.Connection[Any], meal_id: str, column: str, value: str) -> int:
    row = conn.execute(
        f"UPDATE catalog.meals SET {column} = %s, version = version + 1 WHERE id = %s RETURNING version",
        [value, meal_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _changed_since(load: LiveLoad, target: int) -> bool:
    return load.counts.stock_changes >= target


def _captured(stack: Settings, start: dict[int, int], meal_ids: set[str]) -> dict[tuple[str, int], dict[str, Any]]:
    """The catalog.meals events of ``meal_ids`` from ``start`` (partition -> offset) to the end, by (id, version)."""
    topic = stack.topic("catalog", "meals")
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"rename-{uuid.uuid4().hex[:8]}"})
    found: dict[tuple[str, int], dict[str, Any]] = {}
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in start}
        consumer.assign([TopicPartition(topic, p, o) for p, o in start.items()])
        left = {p for p in start if start[p] < ends[p]}
        deadline = time.monotonic() + 60
        while left and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset + 1 >= ends[partition]:
                left.discard(partition)
            value = msg.value()
            after = (json.loads(value) or {}).get("after") if value else None
            if after and after["id"] in meal_ids:
                found[(after["id"], int(after["version"]))] = after
    finally:
        consumer.close()
    return found


def _topic_ends(stack: Settings) -> dict[int, int]:
    topic = stack.topic("catalog", "meals")
    consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap, "group.id": f"rename-{uuid.uuid4().hex[:8]}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def test_a_column_renamed_through_expand_and_contract_loses_no_event(
    stack: Settings, admin_token: str, probe: tuple[str, str]
) -> None:
    es = es_client(stack)
    letters_before = dead_letter_counts(stack)
    starts_before = connector_task_starts(stack)
    suffix = uuid.uuid4().hex[:6]
    renamed = Renamed(old=f"tagline_{suffix}", new=f"strapline_{suffix}")
    with command_client(stack, admin_token) as admin:
        meals = [active_meal(admin, name=f"Rename {suffix} {i}")["id"] for i in range(3)]
    with psycopg.connect(stack.pg_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE catalog.meals ADD COLUMN {renamed.old} text")
        start = _topic_ends(stack)
        n = 0

        def write(column: str, load: LiveLoad, copied_to: str | None = None, rounds: int = 5) -> None:
            """Rounds of one write per meal, each round once the load has made 50 more stock changes."""
            nonlocal n
            for _ in range(rounds):
                wait_until(partial(_changed_since, load, load.counts.stock_changes + 50), 60, "the load to go on", 0.05)
                for meal_id in meals:
                    n += 1
                    value = f"v{n}"
                    version = _write_column(conn, meal_id, column, value)
                    renamed.written[(meal_id, version)] = (copied_to or column, value)

        with LiveLoad(stack, load_rows(stack, probe), probe) as load:
            write(renamed.old, load)
            # expand: the new column, kept equal to the old one by a trigger while writers still write the old one
            conn.execute(f"""
                ALTER TABLE catalog.meals ADD COLUMN {renamed.new} text;
                CREATE FUNCTION catalog.copy_{suffix}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN NEW.{renamed.new} := NEW.{renamed.old}; RETURN NEW; END $$;
                CREATE TRIGGER copy_{suffix} BEFORE INSERT OR UPDATE OF {renamed.old} ON catalog.meals
                    FOR EACH ROW EXECUTE FUNCTION catalog.copy_{suffix}();
                UPDATE catalog.meals SET {renamed.new} = {renamed.old} WHERE {renamed.old} IS NOT NULL""")
            write(renamed.old, load, copied_to=renamed.new)  # captured with the new column, as the trigger set it
            # writers move to the new column; contract: the trigger and the old column go
            conn.execute(f"DROP TRIGGER copy_{suffix} ON catalog.meals; DROP FUNCTION catalog.copy_{suffix}()")
            write(renamed.new, load)
            conn.execute(f"ALTER TABLE catalog.meals DROP COLUMN {renamed.old}")
            write(renamed.new, load)
        conn.execute(f"ALTER TABLE catalog.meals DROP COLUMN {renamed.new}")  # the scratch column: shipped schema

    def all_captured() -> dict[tuple[str, int], dict[str, Any]] | None:
        found = _captured(stack, start, set(meals))
        return found if renamed.written.keys() <= found.keys() else None

    captured = wait_until(all_captured, 120, "every write of the rename captured", 0.5)
    for (meal_id, version), (column, value) in renamed.written.items():
        event = captured[(meal_id, version)]
        assert event.get(column) == value, (column, value, event)
    last = max(renamed.written)  # a change after the contract carries the new column only
    assert renamed.old not in captured[last] and captured[last][renamed.new] is not None, captured[last]
    assert connector_task_starts(stack) == starts_before, "the capture task was restarted"
    assert_clean(stack, es, load, letters_before)
    es.close()


def test_an_incompatible_change_is_refused_by_name_and_writes_nothing(stack: Settings) -> None:
    @dataclass(frozen=True)
    class Changed(View):
        changed: dict[str, Any] = field(default_factory=dict)

        @property
        def mapping(self) -> dict[str, Any]:
            return self.changed

    es = es_client(stack)
    letters_before = dead_letter_counts(stack)
    live = current_index(es, "catalog")
    indices_before = set(es.indices.get(index="catalog-*").body)
    retyped = copy.deepcopy(CATALOG.mapping)
    retyped["mappings"]["properties"]["price_cents"] = {"type": "keyword"}
    retyped["mappings"]["_meta"]["index_version"] = CATALOG.index_version + 1
    misspelt = CATALOG.build_sql.replace("m.spice_level", "m.spice_lvl")
    stopped: list[str] = []

    from sinks.bootstrap import read_pool

    with read_pool(stack, "preflight-test") as pool:
        for view, named in (
            (Changed(**_fields(CATALOG), changed=retyped), "'price_cents'"),
            (Changed(**{**_fields(CATALOG), "build_sql": misspelt}, changed=CATALOG.mapping), "'m.spice_lvl'"),
        ):
            with pytest.raises(PreflightError) as refused:
                rollout_view(pool, es, view, lambda: stopped.append("stop"), lambda: stopped.append("start"))
            assert named in str(refused.value), str(refused.value)
    assert stopped == [], "the worker was never stopped"
    assert current_index(es, "catalog") == live
    assert set(es.indices.get(index="catalog-*").body) == indices_before
    assert dead_letter_counts(stack) == letters_before
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.query_port}") as query:
        assert query.get("/catalog/meals", params={"q": "bowl"}).status_code == 200
    es.close()


def _fields(view: View) -> dict[str, Any]:
    return {
        "name": view.name,
        "root": view.root,
        "sources": view.sources,
        "build_sql": view.build_sql,
        "more": view.more,
        "alias_name": view.alias_name,
    }


def test_the_console_runs_rollout_and_rollback_as_jobs_and_shows_their_refusals(stack: Settings) -> None:
    """On the shipped state there is nothing to roll out and nothing kept to roll back to: both jobs fail with the
    refusal's message, the same functions as the CLI's, and nothing changes."""
    from tests.support.console import console_session

    es = es_client(stack)
    live = current_index(es, "catalog")
    console = console_session(stack)  # logged in already: closed below, not entered
    try:
        for action, refusal in (("rollout", "nothing to roll out"), ("rollback", "no previous version is kept")):

            def rows(action: str = action) -> list[str]:
                """This kind's rows of the jobs table, newest first."""
                page = console.get("/console/part/jobs", headers={"HX-Request": "true"}).text
                return [row for row in page.split("</tr>") if f'data-kind="{action}"' in row]

            before = len(rows())
            r = console.post(f"/console/jobs/{action}", data={"view": "catalog"}, headers={"HX-Request": "true"})
            assert r.status_code == 200, r.text

            def ended(rows: Any = rows, before: int = before) -> str | None:
                found = rows()
                return found[0] if len(found) > before and 'data-state="running"' not in found[0] else None

            row = wait_until(ended, 60, f"the {action} job to end", 0.2)
            assert 'data-state="failed"' in row and refusal in row, row
    finally:
        console.close()
    assert current_index(es, "catalog") == live
    es.close()
