from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from psycopg.rows import DictRow

from farmacy.vocabulary import LocationStatus, MealStatus
from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_one, fetch_row
from writemodel.domain.inventory import Adjustment, LedgerEntry, Posted, Stock, StockKey
from writemodel.repositories import Lock

COLUMNS = "location_id, meal_id, on_hand, reserved, version, updated_at"

RESERVE: LiteralString = """UPDATE inventory.stock
   SET reserved = reserved + %(q)s, version = version + 1, updated_at = now()
 WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand - reserved >= %(q)s
RETURNING 1"""  # the guard is Stock.can_reserve
# The adjustment in one statement: the location and the meal held FOR SHARE (as the reads of other commands hold
# them), the guarded stock change if both exist, its ledger entry if the row changed, and one row back whatever
# happened: the statuses (NULL for a missing reference) and the change (NULLs for none). The stock change joins the
# held references, so their locks are taken before the stock row's, the order every command takes them in.
ADJUST_REFERENCES = """WITH l AS (
    SELECT status AS location_status FROM inventory.locations WHERE id = %(loc)s FOR SHARE
), m AS (
    SELECT status AS meal_status FROM catalog.meals WHERE id = %(meal)s FOR SHARE
)"""
ADJUST_STOCKING = f""", s AS (
    INSERT INTO inventory.stock AS st (location_id, meal_id, on_hand)
    SELECT %(loc)s, %(meal)s, %(delta)s FROM l, m
    ON CONFLICT (location_id, meal_id) DO UPDATE
       SET on_hand = st.on_hand + %(delta)s, version = st.version + 1, updated_at = now()
    RETURNING {COLUMNS}
)"""
ADJUST_TAKING = f""", s AS (
    UPDATE inventory.stock AS st SET on_hand = st.on_hand + %(delta)s, version = st.version + 1, updated_at = now()
      FROM l, m
     WHERE st.location_id = %(loc)s AND st.meal_id = %(meal)s AND st.on_hand + %(delta)s >= st.reserved
    RETURNING {COLUMNS}
)"""
ADJUST_POST = """, a AS (
    INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note, order_id)
    SELECT location_id, meal_id, %(delta)s, %(reason)s, %(actor)s, %(note)s, %(order)s FROM s
    RETURNING id AS adjustment_id, created_at AS adjustment_created_at
)
SELECT l.location_status, m.meal_status, s.*, a.*
  FROM (VALUES (1)) AS one (x) LEFT JOIN l ON true LEFT JOIN m ON true LEFT JOIN s ON true LEFT JOIN a ON true"""
ADJUST: dict[bool, LiteralString] = {
    True: ADJUST_REFERENCES + ADJUST_STOCKING + ADJUST_POST,
    False: ADJUST_REFERENCES + ADJUST_TAKING + ADJUST_POST,
}


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

    async def adjust(self, key: StockKey, delta: int, entry: LedgerEntry) -> Adjustment:
        # One statement, one round trip. Stocking (delta > 0) upserts: a new pair gets its row, a concurrent first
        # stocking of the same pair waits on the conflict and adds to it. Taking out updates the existing row only,
        # its guard tested under the row lock. The ledger entry is appended only if the row changed.
        row = await fetch_row(
            self.conn,
            ADJUST[delta > 0],
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
        location_status, meal_status = row.pop("location_status"), row.pop("meal_status")
        adjustment_id, created_at = row.pop("adjustment_id"), row.pop("adjustment_created_at")
        return Adjustment(
            LocationStatus(location_status) if location_status is not None else None,
            MealStatus(meal_status) if meal_status is not None else None,
            (stock(row), Posted(adjustment_id, created_at)) if adjustment_id is not None else None,
        )

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
