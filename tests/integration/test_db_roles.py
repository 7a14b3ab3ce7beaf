"""Least privilege on the master: each service logs in as its own role, and each role can do only its part
(farmacy/db_roles.py, migration 0004). Every refusal is PostgreSQL's own, tried on the real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import make_conninfo

from farmacy.db_roles import ROLES, DbRole
from farmacy.settings import Settings
from tests.support.commands import active_meal, fetch_all, fetch_one, stocked_location

pytestmark = pytest.mark.integration

WRITE_MODEL = ("catalog", "inventory", "ordering", "subscription")


@pytest.fixture
def as_role(stack: Settings) -> Iterator[dict[DbRole, psycopg.Connection[tuple[object, ...]]]]:
    conns: dict[DbRole, psycopg.Connection[tuple[object, ...]]] = {}
    for role in DbRole:
        user, password = stack.pg_role_login(role)
        conns[role] = psycopg.connect(make_conninfo(stack.pg_dsn, user=user, password=password), autocommit=True)
    yield conns
    for conn in conns.values():
        conn.close()


def _refused(conn: psycopg.Connection[tuple[object, ...]], statement: str, params: list[object] | None = None) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement, params or [])


def _tables(stack: Settings, schemas: tuple[str, ...]) -> list[str]:
    rows = fetch_all(
        stack,
        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = ANY(%s) ORDER BY 1",
        [list(schemas)],
    )
    return [str(r[0]) for r in rows]


def test_the_command_role_cannot_run_ddl(as_role: dict[DbRole, psycopg.Connection[tuple[object, ...]]]) -> None:
    conn = as_role[DbRole.COMMAND]
    name = f"t_{uuid.uuid4().hex[:8]}"
    for schema in (*WRITE_MODEL, "platform", "public"):
        _refused(conn, f"CREATE TABLE {schema}.{name} (id int)")
    _refused(conn, f"CREATE TEMPORARY TABLE {name} (id int)")
    _refused(conn, "ALTER TABLE catalog.meals ADD COLUMN sneaky int")
    _refused(conn, "DROP TABLE inventory.adjustments")
    _refused(conn, "CREATE SCHEMA sneaky")


def test_the_command_role_only_appends_to_the_ledger(
    stack: Settings, admin: httpx.Client, as_role: dict[DbRole, psycopg.Connection[tuple[object, ...]]]
) -> None:
    """The ledger is written by the command API's stock statements (INSERT); its role may not change or remove
    an entry, whatever the trigger behind it would say."""
    meal = active_meal(admin)
    loc = stocked_location(admin, {meal["id"]: 3})
    entry = fetch_one(stack, "SELECT id FROM inventory.adjustments WHERE location_id = %s", [loc["id"]])
    assert entry is not None
    conn = as_role[DbRole.COMMAND]
    _refused(conn, "UPDATE inventory.adjustments SET delta = delta + 1 WHERE id = %s", [entry[0]])
    _refused(conn, "DELETE FROM inventory.adjustments WHERE id = %s", [entry[0]])
    _refused(conn, "TRUNCATE inventory.adjustments")
    row = conn.execute("SELECT delta FROM inventory.adjustments WHERE id = %s", [entry[0]]).fetchone()
    assert row == (3,)  # it reads the ledger, and the entry is unchanged


def test_the_command_role_touches_nothing_outside_the_write_model(
    as_role: dict[DbRole, psycopg.Connection[tuple[object, ...]]],
) -> None:
    conn = as_role[DbRole.COMMAND]
    _refused(conn, "SELECT 1 FROM ops.notifications")
    _refused(conn, "INSERT INTO platform.debezium_signal (id, type, data) VALUES ('x', 'log', '{}')")
    _refused(conn, "UPDATE platform.heartbeat SET beat_at = now()")


def test_the_readers_role_cannot_write_anything(
    stack: Settings, as_role: dict[DbRole, psycopg.Connection[tuple[object, ...]]]
) -> None:
    conn = as_role[DbRole.READER]
    tables = _tables(stack, (*WRITE_MODEL, "platform", "ops"))
    assert "inventory.stock" in tables and "platform.idempotency_keys" in tables
    privileges = fetch_all(
        stack,
        "SELECT t, p FROM unnest(%s::text[]) t, unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p "
        "WHERE has_table_privilege(%s, t::regclass, p)",
        [tables, ROLES[DbRole.READER].name],
    )
    assert privileges == []
    _refused(conn, "UPDATE inventory.stock SET on_hand = on_hand WHERE false")
    _refused(conn, "DELETE FROM catalog.meals WHERE false")
    _refused(conn, "INSERT INTO platform.heartbeat (id, beat_at) VALUES (2, now())")
    _refused(conn, f"CREATE TABLE catalog.t_{uuid.uuid4().hex[:8]} (id int)")
    count = conn.execute("SELECT count(*) FROM catalog.meals").fetchone()
    assert count is not None and int(str(count[0])) >= 0  # and it does read the write model


def test_each_service_logs_in_as_its_own_role(stack: Settings, admin: httpx.Client) -> None:
    """The command API's, the sink workers' and the ops API's sessions are their roles'; none is the owner's."""
    active_meal(admin)  # the command API has a session open now
    rows = fetch_all(
        stack,
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND usename IS NOT NULL",
    )
    users = {str(r[0]) for r in rows}
    for role in (DbRole.COMMAND, DbRole.READER, DbRole.CAPTURE):
        assert ROLES[role].name in users, users


def test_debezium_streams_with_its_own_replication_role(
    stack: Settings, as_role: dict[DbRole, psycopg.Connection[tuple[object, ...]]]
) -> None:
    row = fetch_one(
        stack,
        "SELECT a.usename, r.rolreplication, r.rolsuper FROM pg_replication_slots s "
        "JOIN pg_stat_activity a ON a.pid = s.active_pid JOIN pg_roles r ON r.rolname = a.usename "
        "WHERE s.slot_name = %s",
        [stack.slot_name],
    )
    assert row == (ROLES[DbRole.CAPTURE].name, True, False)
    # It reads what it publishes and writes only its heartbeat and snapshot signals.
    conn = as_role[DbRole.CAPTURE]
    _refused(conn, "UPDATE inventory.stock SET on_hand = on_hand WHERE false")
    _refused(conn, "SELECT 1 FROM platform.idempotency_keys")
    _refused(conn, f"CREATE TABLE platform.t_{uuid.uuid4().hex[:8]} (id int)")
    for role in (DbRole.COMMAND, DbRole.READER, DbRole.OPS):  # nobody else may stream the master's changes
        replication = fetch_one(stack, "SELECT rolreplication FROM pg_roles WHERE rolname = %s", [ROLES[role].name])
        assert replication == (False,)
