from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import DictRow

from farmacy.vocabulary import PlanStatus, SubscriptionStatus
from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_one, fetch_row
from writemodel.domain.subscriptions import NewPlan, NewSubscription, Plan, Subscription
from writemodel.repositories import DuplicateKey, Lock

PLAN_COLUMNS = "id, code, name, meals_per_week, price_cents, status, version, created_at, updated_at"
SUBSCRIPTION_COLUMNS = (
    "id, customer_id, plan_id, location_id, status, paused_until, next_delivery_on, version, created_at, updated_at"
)


def plan(row: DictRow) -> Plan:
    return Plan(**{**row, "status": PlanStatus(row["status"])})


def subscription(row: DictRow) -> Subscription:
    return Subscription(**{**row, "status": SubscriptionStatus(row["status"])})


class PgPlans:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, new: NewPlan) -> Plan:
        try:
            row = await fetch_row(
                self.conn,
                f"""INSERT INTO subscription.plans (code, name, meals_per_week, price_cents)
                    VALUES (%s, %s, %s, %s) RETURNING {PLAN_COLUMNS}""",
                [new.code, new.name, new.meals_per_week, new.price_cents],
            )
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(new.code) from exc
        return plan(row)

    async def get(self, plan_id: UUID, lock: Lock = Lock.NONE) -> Plan | None:
        row = await fetch_one(
            self.conn, f"SELECT {PLAN_COLUMNS} FROM subscription.plans WHERE id = %s{LOCK_CLAUSE[lock]}", [plan_id]
        )
        return plan(row) if row else None

    async def save(self, p: Plan) -> Plan:
        row = await fetch_row(
            self.conn,
            f"""UPDATE subscription.plans
                   SET name = %s, meals_per_week = %s, price_cents = %s, status = %s,
                       version = version + 1, updated_at = now()
                 WHERE id = %s RETURNING {PLAN_COLUMNS}""",
            [p.name, p.meals_per_week, p.price_cents, p.status.value, p.id],
        )
        return plan(row)


class PgSubscriptions:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, new: NewSubscription) -> Subscription:
        row = await fetch_row(
            self.conn,
            f"""INSERT INTO subscription.subscriptions (customer_id, plan_id, location_id, next_delivery_on)
                VALUES (%s, %s, %s, %s) RETURNING {SUBSCRIPTION_COLUMNS}""",
            [new.customer_id, new.plan_id, new.location_id, new.next_delivery_on],
        )
        return subscription(row)

    async def get(self, subscription_id: UUID, lock: Lock = Lock.NONE) -> Subscription | None:
        row = await fetch_one(
            self.conn,
            f"SELECT {SUBSCRIPTION_COLUMNS} FROM subscription.subscriptions WHERE id = %s{LOCK_CLAUSE[lock]}",
            [subscription_id],
        )
        return subscription(row) if row else None

    async def save(self, s: Subscription) -> Subscription:
        row = await fetch_row(
            self.conn,
            f"""UPDATE subscription.subscriptions
                   SET plan_id = %s, location_id = %s, status = %s, paused_until = %s, next_delivery_on = %s,
                       version = version + 1, updated_at = now()
                 WHERE id = %s RETURNING {SUBSCRIPTION_COLUMNS}""",
            [s.plan_id, s.location_id, s.status.value, s.paused_until, s.next_delivery_on, s.id],
        )
        return subscription(row)
