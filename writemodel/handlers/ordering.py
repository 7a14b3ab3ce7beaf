"""Ordering context: customers and orders. Placing reserves stock atomically; cancelling releases it;
pick-up consumes it (and writes 'sale' entries to the ledger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from farmacy.errors import (
    Conflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    ReferenceNotFound,
)
from farmacy.vocabulary import MealStatus, OrderStatus
from writemodel.commands import ChangeOrderStatus, PlaceOrder, RegisterCustomer
from writemodel.domain.model import (
    MAX_PICKUP_DAYS_AHEAD,
    MAX_PICKUP_WINDOW_HOURS,
    ORDER_TRANSITIONS,
    is_operational,
    transition_error,
)
from writemodel.handlers.inventory import append_ledger
from writemodel.handlers.versioned import load_for_update, update_row
from writemodel.uow import UnitOfWork

CUSTOMER_COLUMNS = "id, email, name, version, created_at, updated_at"
ORDER_COLUMNS = (
    "id, customer_id, location_id, pickup_from, pickup_until, status, total_cents, version, created_at, updated_at"
)


async def register_customer(cmd: RegisterCustomer, uow: UnitOfWork) -> dict[str, Any]:
    try:
        async with uow.transaction() as conn:
            cur = await conn.execute(
                f"INSERT INTO ordering.customers (email, name) VALUES (%s, %s) RETURNING {CUSTOMER_COLUMNS}",
                [cmd.email, cmd.name],
            )
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(
            "a customer with this email is already registered", field="email", rule="must be unique"
        ) from exc
    assert row is not None
    return dict(row)


def _check_window(cmd: PlaceOrder, now: datetime) -> None:
    if cmd.pickup_until <= cmd.pickup_from:
        raise InvalidInput(
            "pickup_until must be after pickup_from", field="pickup_until", rule="must be after pickup_from"
        )
    if cmd.pickup_until <= now:
        raise InvalidInput("the pick-up window is already over", field="pickup_until", rule="must be in the future")
    if cmd.pickup_until - cmd.pickup_from > timedelta(hours=MAX_PICKUP_WINDOW_HOURS):
        raise InvalidInput(
            f"a pick-up window lasts at most {MAX_PICKUP_WINDOW_HOURS} hours",
            field="pickup_until",
            rule=f"window at most {MAX_PICKUP_WINDOW_HOURS}h",
        )
    if cmd.pickup_from > now + timedelta(days=MAX_PICKUP_DAYS_AHEAD):
        raise InvalidInput(
            f"pick-up starts at most {MAX_PICKUP_DAYS_AHEAD} days ahead",
            field="pickup_from",
            rule=f"at most {MAX_PICKUP_DAYS_AHEAD} days ahead",
        )


async def place_order(cmd: PlaceOrder, uow: UnitOfWork) -> dict[str, Any]:
    _check_window(cmd, datetime.now(UTC))
    async with uow.transaction() as conn:
        cur = await conn.execute("SELECT 1 FROM ordering.customers WHERE id = %s", [cmd.customer_id])
        if await cur.fetchone() is None:
            raise ReferenceNotFound(
                f"customer {cmd.customer_id} does not exist",
                field="customer_id",
                rule="must reference a registered customer",
            )
        # FOR SHARE: a concurrent status change waits for this order, and this order sees the final status.
        cur = await conn.execute("SELECT status FROM inventory.locations WHERE id = %s FOR SHARE", [cmd.location_id])
        location = await cur.fetchone()
        if location is None:
            raise ReferenceNotFound(
                f"location {cmd.location_id} does not exist",
                field="location_id",
                rule="must reference an existing location",
            )
        if not is_operational(location["status"]):
            raise Conflict(
                f"location is {location['status']}, not taking orders",
                field="location_id",
                rule="location must be operational (online or open)",
            )
        meal_ids = [line.meal_id for line in cmd.lines]
        cur = await conn.execute(
            "SELECT id, status, price_cents FROM catalog.meals WHERE id = ANY(%s) FOR SHARE", [meal_ids]
        )
        meals = {row["id"]: row for row in await cur.fetchall()}
        for i, line in enumerate(cmd.lines):
            meal = meals.get(line.meal_id)
            if meal is None:
                raise ReferenceNotFound(
                    f"meal {line.meal_id} does not exist",
                    field=f"lines.{i}.meal_id",
                    rule="must reference an existing meal",
                )
            if meal["status"] != MealStatus.ACTIVE:
                raise Conflict(
                    f"meal {line.meal_id} is {meal['status']}, not for sale",
                    field=f"lines.{i}.meal_id",
                    rule="meal must be active",
                )
        short = await _reserve(conn, cmd)
        if short:
            names = ", ".join(f"lines.{s['line']}" for s in short)
            raise InsufficientStock(
                f"not enough stock for {names}",
                field=f"lines.{short[0]['line']}.quantity",
                rule="quantity must not exceed what is available",
                extra={"short_lines": short},
            )
        total = sum(meals[line.meal_id]["price_cents"] * line.quantity for line in cmd.lines)
        cur = await conn.execute(
            f"""INSERT INTO ordering.orders (customer_id, location_id, pickup_from, pickup_until, total_cents)
                VALUES (%s, %s, %s, %s, %s) RETURNING {ORDER_COLUMNS}""",
            [cmd.customer_id, cmd.location_id, cmd.pickup_from, cmd.pickup_until, total],
        )
        order = await cur.fetchone()
        assert order is not None
        lines = []
        for n, line in enumerate(cmd.lines, start=1):
            price = meals[line.meal_id]["price_cents"]
            await conn.execute(
                """INSERT INTO ordering.order_lines (order_id, line_no, meal_id, quantity, unit_price_cents)
                   VALUES (%s, %s, %s, %s, %s)""",
                [order["id"], n, line.meal_id, line.quantity, price],
            )
            lines.append({"line_no": n, "meal_id": line.meal_id, "quantity": line.quantity, "unit_price_cents": price})
    return {**dict(order), "lines": lines}


async def _reserve(conn: AsyncConnection[DictRow], cmd: PlaceOrder) -> list[dict[str, Any]]:
    """Reserves every line (in meal-id order, so concurrent orders never deadlock); returns the short ones."""
    short = []
    order = sorted(range(len(cmd.lines)), key=lambda i: cmd.lines[i].meal_id)
    for i in order:
        line = cmd.lines[i]
        cur = await conn.execute(
            """UPDATE inventory.stock SET reserved = reserved + %(q)s, version = version + 1, updated_at = now()
               WHERE location_id = %(loc)s AND meal_id = %(meal)s AND on_hand - reserved >= %(q)s
               RETURNING 1""",
            {"q": line.quantity, "loc": cmd.location_id, "meal": line.meal_id},
        )
        if await cur.fetchone() is None:
            cur = await conn.execute(
                "SELECT on_hand - reserved AS available FROM inventory.stock WHERE location_id = %s AND meal_id = %s",
                [cmd.location_id, line.meal_id],
            )
            row = await cur.fetchone()
            short.append(
                {
                    "line": i,
                    "meal_id": str(line.meal_id),
                    "requested": line.quantity,
                    "available": row["available"] if row else 0,
                }
            )
    return sorted(short, key=lambda s: s["line"])


async def change_order_status(cmd: ChangeOrderStatus, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        order = await load_for_update(
            conn, "ordering.orders", cmd.order_id, cmd.expected_version, "order", cmd.actor.customer_scope
        )
        if (why := transition_error("order", order["status"], cmd.target, ORDER_TRANSITIONS)) is not None:
            raise InvalidTransition(why, field="status", rule="valid order status transition")
        cur = await conn.execute(
            "SELECT line_no, meal_id, quantity, unit_price_cents FROM ordering.order_lines WHERE order_id = %s "
            "ORDER BY meal_id",
            [cmd.order_id],
        )
        lines = [dict(line) for line in await cur.fetchall()]
        if cmd.target == OrderStatus.CANCELLED:
            for line in lines:
                await conn.execute(
                    """UPDATE inventory.stock SET reserved = reserved - %s, version = version + 1, updated_at = now()
                       WHERE location_id = %s AND meal_id = %s""",
                    [line["quantity"], order["location_id"], line["meal_id"]],
                )
        elif cmd.target == OrderStatus.PICKED_UP:
            for line in lines:
                await conn.execute(
                    """UPDATE inventory.stock SET reserved = reserved - %(q)s, on_hand = on_hand - %(q)s,
                              version = version + 1, updated_at = now()
                       WHERE location_id = %(loc)s AND meal_id = %(meal)s""",
                    {"q": line["quantity"], "loc": order["location_id"], "meal": line["meal_id"]},
                )
                await append_ledger(
                    conn,
                    order["location_id"],
                    line["meal_id"],
                    -line["quantity"],
                    "sale",
                    cmd.actor.subject,
                    order_id=cmd.order_id,
                )
        updated = await update_row(conn, "ordering.orders", cmd.order_id, {"status": cmd.target}, ORDER_COLUMNS)
    return {**updated, "lines": sorted(lines, key=lambda line: line["line_no"])}
