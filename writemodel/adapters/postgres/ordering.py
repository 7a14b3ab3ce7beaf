from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import DictRow

from farmacy.vocabulary import OrderStatus
from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_later, fetch_one, fetch_row
from writemodel.domain.ordering import Customer, NewOrder, Order, PricedLine
from writemodel.repositories import DuplicateKey, Later, Lock

CUSTOMER_COLUMNS = "id, email, name, version, created_at, updated_at"
ORDER_COLUMNS = (
    "id, customer_id, location_id, pickup_from, pickup_until, status, total_cents, version, created_at, updated_at"
)


def order(row: DictRow, lines: tuple[PricedLine, ...]) -> Order:
    return Order(**{**row, "status": OrderStatus(row["status"])}, lines=lines)


class PgCustomers:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, email: str, name: str) -> Customer:
        try:
            row = await fetch_row(
                self.conn,
                f"INSERT INTO ordering.customers (email, name) VALUES (%s, %s) RETURNING {CUSTOMER_COLUMNS}",
                [email, name],
            )
        except psycopg.errors.UniqueViolation as exc:  # customers_email_key: unique on lower(email)
            raise DuplicateKey(email) from exc
        return Customer(**row)

    async def get(self, customer_id: UUID) -> Customer | None:
        row = await fetch_one(
            self.conn, f"SELECT {CUSTOMER_COLUMNS} FROM ordering.customers WHERE id = %s", [customer_id]
        )
        return Customer(**row) if row else None


class PgOrders:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add_later(self, new: NewOrder) -> Later[Order]:
        # One statement for the order and its lines: one message to the master, however many lines the order has. Its
        # row is read later: the reservations that follow go out in the same round trip.
        row = await fetch_later(
            self.conn,
            f"""WITH o AS (
                    INSERT INTO ordering.orders (customer_id, location_id, pickup_from, pickup_until, total_cents)
                    VALUES (%(customer)s, %(location)s, %(from)s, %(until)s, %(total)s) RETURNING {ORDER_COLUMNS}
                ), lines AS (
                    INSERT INTO ordering.order_lines (order_id, line_no, meal_id, quantity, unit_price_cents)
                    SELECT o.id, l.line_no, l.meal_id, l.quantity, l.unit_price_cents
                      FROM o, unnest(%(line_nos)s::smallint[], %(meals)s::uuid[], %(quantities)s::integer[],
                                     %(prices)s::integer[]) AS l (line_no, meal_id, quantity, unit_price_cents)
                )
                SELECT * FROM o""",
            {
                "customer": new.customer_id,
                "location": new.location_id,
                "from": new.pickup_from,
                "until": new.pickup_until,
                "total": new.total_cents,
                "line_nos": [line.line_no for line in new.lines],
                "meals": [line.meal_id for line in new.lines],
                "quantities": [line.quantity for line in new.lines],
                "prices": [line.unit_price_cents for line in new.lines],
            },
        )

        async def result() -> Order:
            found = await row()
            assert found is not None, "INSERT ... RETURNING returned no row"
            return order(found, new.lines)

        return result

    async def get(self, order_id: UUID, lock: Lock = Lock.NONE) -> Order | None:
        row = await fetch_one(
            self.conn, f"SELECT {ORDER_COLUMNS} FROM ordering.orders WHERE id = %s{LOCK_CLAUSE[lock]}", [order_id]
        )
        if row is None:
            return None
        cur = await self.conn.execute(
            "SELECT line_no, meal_id, quantity, unit_price_cents FROM ordering.order_lines WHERE order_id = %s "
            "ORDER BY line_no",
            [order_id],
        )
        return order(row, tuple(PricedLine(**line) for line in await cur.fetchall()))

    async def save(self, o: Order) -> Order:
        row = await fetch_row(
            self.conn,
            f"""UPDATE ordering.orders SET status = %s, version = version + 1, updated_at = now()
                WHERE id = %s RETURNING {ORDER_COLUMNS}""",
            [o.status.value, o.id],
        )
        return order(row, o.lines)
