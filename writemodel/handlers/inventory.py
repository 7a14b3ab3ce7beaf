"""Inventory context: stock changes. Every on_hand change appends to the ledger in the same transaction."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from farmacy.errors import Conflict, InsufficientStock, InvalidInput, ReferenceNotFound
from farmacy.vocabulary import MealStatus
from writemodel.commands import AdjustStock, CountStock
from writemodel.domain.model import RETIRED_LOCATION_STATUSES, delta_sign_rule
from writemodel.uow import UnitOfWork

STOCK_COLUMNS = "location_id, meal_id, on_hand, reserved, version, updated_at"


async def _check_references(conn: AsyncConnection[DictRow], location_id: UUID, meal_id: UUID, stocking: bool) -> str:
    """Checks both references exist and the location still takes stock; returns the meal's status."""
    cur = await conn.execute("SELECT status FROM inventory.locations WHERE id = %s FOR SHARE", [location_id])
    location = await cur.fetchone()
    if location is None:
        raise ReferenceNotFound(
            f"location {location_id} does not exist", field="location_id", rule="must reference an existing location"
        )
    cur = await conn.execute("SELECT status FROM catalog.meals WHERE id = %s FOR SHARE", [meal_id])
    meal = await cur.fetchone()
    if meal is None:
        raise ReferenceNotFound(
            f"meal {meal_id} does not exist", field="meal_id", rule="must reference an existing meal"
        )
    if location["status"] in RETIRED_LOCATION_STATUSES:
        raise Conflict(
            f"location is {location['status']}; its stock can no longer change",
            field="location_id",
            rule="location must not be decommissioned or closed",
        )
    if stocking and meal["status"] == MealStatus.RETIRED:
        raise _retired_meal()
    return str(meal["status"])


def _retired_meal() -> Conflict:
    return Conflict("a retired meal cannot be stocked", field="meal_id", rule="meal must not be retired")


async def append_ledger(
    conn: AsyncConnection[DictRow],
    location_id: UUID,
    meal_id: UUID,
    delta: int,
    reason: str,
    actor: str,
    note: str | None = None,
    order_id: UUID | None = None,
) -> dict[str, Any]:
    cur = await conn.execute(
        """INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note, order_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id, created_at""",
        [location_id, meal_id, delta, reason, actor, note, order_id],
    )
    entry = await cur.fetchone()
    assert entry is not None
    return dict(entry)


async def adjust_stock(cmd: AdjustStock, uow: UnitOfWork) -> dict[str, Any]:
    if (broken := delta_sign_rule(cmd.reason, cmd.delta)) is not None:
        raise InvalidInput(broken, field="delta", rule=broken)
    async with uow.transaction() as conn:
        await _check_references(conn, cmd.location_id, cmd.meal_id, stocking=cmd.delta > 0)
        await conn.execute(
            "INSERT INTO inventory.stock (location_id, meal_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [cmd.location_id, cmd.meal_id],
        )
        # One statement reads and changes the row under its lock: no lost update, no oversell.
        cur = await conn.execute(
            f"""UPDATE inventory.stock
                   SET on_hand = on_hand + %(delta)s, version = version + 1, updated_at = now()
                 WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand + %(delta)s >= reserved
             RETURNING {STOCK_COLUMNS}""",
            {"delta": cmd.delta, "loc": cmd.location_id, "meal": cmd.meal_id},
        )
        stock = await cur.fetchone()
        if stock is None:
            cur = await conn.execute(
                "SELECT on_hand, reserved FROM inventory.stock WHERE location_id = %s AND meal_id = %s",
                [cmd.location_id, cmd.meal_id],
            )
            current = await cur.fetchone()
            assert current is not None
            raise InsufficientStock(
                f"on_hand {current['on_hand']} (reserved {current['reserved']}) cannot change by {cmd.delta}",
                field="delta",
                rule="stock must stay at or above the reserved quantity and never below zero",
                extra={"on_hand": current["on_hand"], "reserved": current["reserved"]},
            )
        entry = await append_ledger(
            conn, cmd.location_id, cmd.meal_id, cmd.delta, cmd.reason.value, cmd.actor.subject, cmd.note
        )
    return {
        "adjustment_id": entry["id"],
        "created_at": entry["created_at"],
        "delta": cmd.delta,
        "reason": cmd.reason.value,
        **dict(stock),
    }


async def count_stock(cmd: CountStock, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        meal_status = await _check_references(conn, cmd.location_id, cmd.meal_id, stocking=False)
        await conn.execute(
            "INSERT INTO inventory.stock (location_id, meal_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [cmd.location_id, cmd.meal_id],
        )
        cur = await conn.execute(
            f"SELECT {STOCK_COLUMNS} FROM inventory.stock WHERE location_id = %s AND meal_id = %s FOR UPDATE",
            [cmd.location_id, cmd.meal_id],
        )
        stock = await cur.fetchone()
        assert stock is not None
        if cmd.counted < stock["reserved"]:
            raise InsufficientStock(
                f"counted {cmd.counted} but {stock['reserved']} are reserved for orders; cancel them first",
                field="counted",
                rule="a count cannot be below the reserved quantity",
                extra={"on_hand": stock["on_hand"], "reserved": stock["reserved"]},
            )
        delta = cmd.counted - stock["on_hand"]
        if delta > 0 and meal_status == MealStatus.RETIRED:
            raise _retired_meal()  # a count may find fewer units of a retired meal, never more
        adjustment_id = None
        if delta != 0:
            cur = await conn.execute(
                f"""UPDATE inventory.stock SET on_hand = %s, version = version + 1, updated_at = now()
                    WHERE location_id = %s AND meal_id = %s RETURNING {STOCK_COLUMNS}""",
                [cmd.counted, cmd.location_id, cmd.meal_id],
            )
            stock = await cur.fetchone()
            assert stock is not None
            entry = await append_ledger(conn, cmd.location_id, cmd.meal_id, delta, "count", cmd.actor.subject, cmd.note)
            adjustment_id = entry["id"]
    return {"adjustment_id": adjustment_id, "delta": delta, **dict(stock)}
