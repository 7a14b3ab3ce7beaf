"""The master's own constraints hold even if a command handler had a bug (real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from farmacy.settings import Settings
from tests.support.api import unique_code

pytestmark = pytest.mark.integration
StockRow = tuple[uuid.UUID, uuid.UUID]  # (location_id, meal_id)


@pytest.fixture
def conn(stack: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(stack.pg_dsn) as c:
        yield c
        c.rollback()  # nothing a test writes here is kept


@pytest.fixture
def stock_row(conn: psycopg.Connection) -> StockRow:
    meal = conn.execute(
        "INSERT INTO catalog.meals (name, calories, price_cents) VALUES ('c', 1, 1) RETURNING id"
    ).fetchone()
    loc = conn.execute(
        "INSERT INTO inventory.locations (code, name, kind, city, latitude, longitude, status) "
        "VALUES (%s, 'x', 'smart_fridge', 'c', 0, 0, 'online') RETURNING id",
        [unique_code()],
    ).fetchone()
    assert meal and loc
    conn.execute("INSERT INTO inventory.stock (location_id, meal_id, on_hand) VALUES (%s, %s, 3)", [loc[0], meal[0]])
    return loc[0], meal[0]


def test_stock_cannot_go_negative(conn: psycopg.Connection, stock_row: StockRow) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_on_hand_not_negative"):
        conn.execute("UPDATE inventory.stock SET on_hand = -1 WHERE location_id = %s AND meal_id = %s", stock_row)


def test_reserved_cannot_exceed_on_hand(conn: psycopg.Connection, stock_row: StockRow) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="stock_reserved_within_on_hand"):
        conn.execute("UPDATE inventory.stock SET reserved = 4 WHERE location_id = %s AND meal_id = %s", stock_row)


def test_ledger_is_append_only(conn: psycopg.Connection, stock_row: StockRow) -> None:
    conn.execute(
        "INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor) "
        "VALUES (%s, %s, 3, 'replenish', 't')",
        stock_row,
    )
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        conn.execute("UPDATE inventory.adjustments SET delta = 4 WHERE location_id = %s", [stock_row[0]])


def test_location_status_must_fit_its_kind(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="location_status_fits_kind"):
        conn.execute(
            "INSERT INTO inventory.locations (code, name, kind, city, latitude, longitude, status) "
            "VALUES (%s, 'x', 'kiosk', 'c', 0, 0, 'online')",
            [unique_code()],
        )
