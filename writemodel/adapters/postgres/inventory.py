from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from psycopg.rows import DictRow

from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_one, fetch_row
from writemodel.domain.inventory import LedgerEntry, Posted, Stock, StockKey
from writemodel.repositories import Lock

COLUMNS = "location_id, meal_id, on_hand, reserved, version, updated_at"

RESERVE: LiteralString = """UPDATE inventory.stock
   SET reserved = reserved + %(q)s, version = version + 1, updated_at = now()
 WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand - reserved >= %(q)s
RETURNING 1"""  # the guard is Stock.can_reserve
ADJUST_STOCKING = f"""WITH s AS (
    INSERT INTO inventory.stock AS st (location_id, meal_id, on_hand) VALUES (%(loc)s, %(meal)s, %(delta)s)
    ON CONFLICT (location_id, meal_id) DO UPDATE
       SET on_hand = st.on_hand + %(delta)s, version = st.version + 1, updated_at = now()
    RETURNING {COLUMNS}
)"""
ADJUST_TAKING = f"""WITH s AS (
    UPDATE inventory.stock SET on_hand = on_hand + %(delta)s, version = version + 1, updated_at = now()
     WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand + %(delta)s >= reserved
    RETURNING {COLUMNS}
)"""
ADJUST_POST = """, a AS (
    INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note, order_id)
    SELECT location_id, meal_id, %(delta)s, %(reason)s, %(actor)s, %(note)s, %(order)s FROM s
    RETURNING id AS adjustment_id, created_at AS adjustment_created_at
)
SELECT s.*, a.* FROM s, a"""


def stock(row: DictRow) -> Stock:
    return Stock(**row)


class PgStockLevels:
    """Every change is one statement; the guarded ones test their condition under the row lock they take,
    so concurrent changes serialize on the row and none can oversell (no read-then-write race)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def ensure(self, key: StockKey) -> None:
        await self.conn.execute(
            "INSERT INTO inventory.stock (location_id, meal_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [key.location_id, key.meal_id],
        )

    async def get(self, key: StockKey, lock: Lock = Lock.NONE) -> Stock | None:
        row = await fetch_one(
            self.conn,
            f"SELECT {COLUMNS} FROM inventory.stock WHERE location_id = %s AND meal_id = %s{LOCK_CLAUSE[lock]}",
            [key.location_id, key.meal_id],
        )
        return stock(row) if row else None

    async def set_on_hand(self, key: StockKey, on_hand: int) -> Stock:
        row = await fetch_row(
            self.conn,
            f"""UPDATE inventory.stock SET on_hand = %s, version = version + 1, updated_at = now()
                WHERE location_id = %s AND meal_id = %s RETURNING {COLUMNS}""",
            [on_hand, key.location_id, key.meal_id],
        )
        return stock(row)

    async def reserve_all(self, wanted: Sequence[tuple[StockKey, int]]) -> list[bool]:
        # Every statement is sent before any result is read: in the command's pipeline, one round trip for all.
        cursors = [
            await self.conn.execute(RESERVE, {"q": quantity, "loc": key.location_id, "meal": key.meal_id})
            for key, quantity in wanted
        ]
        return [await cur.fetchone() is not None for cur in cursors]

    async def release(self, key: StockKey, quantity: int) -> None:
        await self.conn.execute(
            """UPDATE inventory.stock SET reserved = reserved - %s, version = version + 1, updated_at = now()
               WHERE location_id = %s AND meal_id = %s""",
            [quantity, key.location_id, key.meal_id],
        )

    async def consume(self, key: StockKey, quantity: int) -> None:
        await self.conn.execute(
            """UPDATE inventory.stock SET reserved = reserved - %(q)s, on_hand = on_hand - %(q)s,
                      version = version + 1, updated_at = now()
               WHERE location_id = %(loc)s AND meal_id = %(meal)s""",
            {"q": quantity, "loc": key.location_id, "meal": key.meal_id},
        )

    async def adjust(self, key: StockKey, delta: int, entry: LedgerEntry) -> tuple[Stock, Posted] | None:
        # One statement, one round trip. Stocking (delta > 0) upserts: a new pair gets its row, a concurrent first
        # stocking of the same pair waits on the conflict and adds to it. Taking out updates the existing row only,
        # its guard tested under the row lock. The ledger entry is appended only if the row changed.
        row = await fetch_one(
            self.conn,
            (ADJUST_STOCKING if delta > 0 else ADJUST_TAKING) + ADJUST_POST,
            {
                "loc": key.location_id,
                "meal": key.meal_id,
                "delta": delta,
                "reason": entry.reason.value,
                "actor": entry.actor,
                "note": entry.note,
                "order": entry.order_id,
            },
        )
        if row is None:
            return None
        posted = Posted(row.pop("adjustment_id"), row.pop("adjustment_created_at"))
        return stock(row), posted

    async def post(self, entry: LedgerEntry) -> Posted:
        row = await fetch_row(
            self.conn,
            """INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note, order_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, created_at""",
            [
                entry.location_id,
                entry.meal_id,
                entry.delta,
                entry.reason.value,
                entry.actor,
                entry.note,
                entry.order_id,
            ],
        )
        return Posted(row["id"], row["created_at"])
