"""Inventory context: stock changes. Every on_hand change appends to the ledger in the same transaction."""

from __future__ import annotations

from typing import Any

from farmacy.commands import AdjustStock
from farmacy.domain.errors import Conflict, InsufficientStock, InvalidInput, ReferenceNotFound
from farmacy.domain.model import RETIRED_LOCATION_STATUSES, delta_sign_rule
from farmacy.uow import UnitOfWork


async def adjust_stock(cmd: AdjustStock, uow: UnitOfWork) -> dict[str, Any]:
    if (broken := delta_sign_rule(cmd.reason, cmd.delta)) is not None:
        raise InvalidInput(broken, field="delta", rule=broken)
    async with uow.transaction() as conn:
        cur = await conn.execute(
            "SELECT status FROM inventory.locations WHERE id = %s", [cmd.location_id]
        )
        location = await cur.fetchone()
        if location is None:
            raise ReferenceNotFound(f"location {cmd.location_id} does not exist", field="location_id",
                                    rule="must reference an existing location")
        cur = await conn.execute("SELECT status FROM catalog.meals WHERE id = %s", [cmd.meal_id])
        meal = await cur.fetchone()
        if meal is None:
            raise ReferenceNotFound(f"meal {cmd.meal_id} does not exist", field="meal_id",
                                    rule="must reference an existing meal")
        if location["status"] in RETIRED_LOCATION_STATUSES:
            raise Conflict(f"location is {location['status']}; its stock can no longer change",
                           field="location_id", rule="location must not be decommissioned or closed")
        if cmd.delta > 0 and meal["status"] == "retired":
            raise Conflict("a retired meal cannot be stocked", field="meal_id", rule="meal must not be retired")
        await conn.execute(
            "INSERT INTO inventory.stock (location_id, meal_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [cmd.location_id, cmd.meal_id],
        )
        # One statement reads and changes the row under its lock: no lost update, no oversell.
        cur = await conn.execute(
            """UPDATE inventory.stock
                  SET on_hand = on_hand + %(delta)s, version = version + 1, updated_at = now()
                WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand + %(delta)s >= reserved
            RETURNING location_id, meal_id, on_hand, reserved, version, updated_at""",
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
                field="delta", rule="stock must stay at or above the reserved quantity and never below zero",
                extra={"on_hand": current["on_hand"], "reserved": current["reserved"]},
            )
        cur = await conn.execute(
            """INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING id, created_at""",
            [cmd.location_id, cmd.meal_id, cmd.delta, cmd.reason.value, cmd.actor.subject, cmd.note],
        )
        entry = await cur.fetchone()
    assert entry is not None
    return {
        "adjustment_id": entry["id"], "created_at": entry["created_at"], "delta": cmd.delta,
        "reason": cmd.reason.value, **dict(stock),
    }
