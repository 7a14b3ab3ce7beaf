"""Subscription context: plans (admin) and customers' meal-plan subscriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow

from farmacy.errors import Conflict, InvalidInput, InvalidTransition, ReferenceNotFound
from farmacy.vocabulary import SubscriptionStatus
from writemodel.commands import (
    ChangeSubscriptionStatus,
    CreatePlan,
    RetirePlan,
    Subscribe,
    UpdatePlan,
    UpdateSubscription,
)
from writemodel.domain.model import RETIRED_LOCATION_STATUSES, SUBSCRIPTION_TRANSITIONS, transition_error
from writemodel.handlers.versioned import load_for_update, update_row
from writemodel.uow import UnitOfWork

PLAN_COLUMNS = "id, code, name, meals_per_week, price_cents, status, version, created_at, updated_at"
SUBSCRIPTION_COLUMNS = (
    "id, customer_id, plan_id, location_id, status, paused_until, next_delivery_on, version, created_at, updated_at"
)
MAX_PAUSE_DAYS = 180


def next_delivery(after: date) -> date:
    """Deliveries go out on Mondays; the next one strictly after ``after``."""
    return after + timedelta(days=7 - after.weekday())


def today() -> date:
    return datetime.now(UTC).date()


async def create_plan(cmd: CreatePlan, uow: UnitOfWork) -> dict[str, Any]:
    try:
        async with uow.transaction() as conn:
            cur = await conn.execute(
                f"""INSERT INTO subscription.plans (code, name, meals_per_week, price_cents)
                    VALUES (%s, %s, %s, %s) RETURNING {PLAN_COLUMNS}""",
                [cmd.code, cmd.name, cmd.meals_per_week, cmd.price_cents],
            )
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"a plan with code '{cmd.code}' already exists", field="code", rule="must be unique") from exc
    assert row is not None
    return dict(row)


async def update_plan(cmd: UpdatePlan, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        plan = await load_for_update(conn, "subscription.plans", cmd.plan_id, cmd.expected_version, "plan")
        if plan["status"] == "retired":
            raise Conflict("a retired plan cannot be edited", rule="plan must not be retired")
        if not cmd.changes:
            return plan
        return await update_row(conn, "subscription.plans", cmd.plan_id, cmd.changes, PLAN_COLUMNS)


async def retire_plan(cmd: RetirePlan, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        plan = await load_for_update(conn, "subscription.plans", cmd.plan_id, cmd.expected_version, "plan")
        if plan["status"] == "retired":
            raise InvalidTransition("the plan is already retired", field="status", rule="valid plan status transition")
        return await update_row(conn, "subscription.plans", cmd.plan_id, {"status": "retired"}, PLAN_COLUMNS)


async def _check_plan(conn: AsyncConnection[DictRow], plan_id: UUID) -> None:
    cur = await conn.execute("SELECT status FROM subscription.plans WHERE id = %s FOR SHARE", [plan_id])
    plan = await cur.fetchone()
    if plan is None:
        raise ReferenceNotFound(
            f"plan {plan_id} does not exist", field="plan_id", rule="must reference an existing plan"
        )
    if plan["status"] != "active":
        raise Conflict("this plan is retired", field="plan_id", rule="plan must be active")


async def _check_location(conn: AsyncConnection[DictRow], location_id: UUID) -> None:
    cur = await conn.execute("SELECT status FROM inventory.locations WHERE id = %s FOR SHARE", [location_id])
    loc = await cur.fetchone()
    if loc is None:
        raise ReferenceNotFound(
            f"location {location_id} does not exist", field="location_id", rule="must reference an existing location"
        )
    if loc["status"] in RETIRED_LOCATION_STATUSES:
        raise Conflict(
            f"location is {loc['status']}",
            field="location_id",
            rule="pick-up location must not be decommissioned or closed",
        )


async def subscribe(cmd: Subscribe, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        cur = await conn.execute("SELECT 1 FROM ordering.customers WHERE id = %s", [cmd.customer_id])
        if await cur.fetchone() is None:
            raise ReferenceNotFound(
                f"customer {cmd.customer_id} does not exist",
                field="customer_id",
                rule="must reference a registered customer",
            )
        await _check_plan(conn, cmd.plan_id)
        await _check_location(conn, cmd.location_id)
        cur = await conn.execute(
            f"""INSERT INTO subscription.subscriptions (customer_id, plan_id, location_id, next_delivery_on)
                VALUES (%s, %s, %s, %s) RETURNING {SUBSCRIPTION_COLUMNS}""",
            [cmd.customer_id, cmd.plan_id, cmd.location_id, next_delivery(today())],
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def change_subscription_status(cmd: ChangeSubscriptionStatus, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        sub = await load_for_update(
            conn,
            "subscription.subscriptions",
            cmd.subscription_id,
            cmd.expected_version,
            "subscription",
            cmd.actor.customer_scope,
        )
        if why := transition_error("subscription", sub["status"], cmd.target, SUBSCRIPTION_TRANSITIONS):
            raise InvalidTransition(why, field="status", rule="valid subscription status transition")
        changes: dict[str, Any] = {"status": cmd.target, "paused_until": None}
        if cmd.target == SubscriptionStatus.PAUSED:
            until = cmd.paused_until
            if until is None or until <= today() or until > today() + timedelta(days=MAX_PAUSE_DAYS):
                raise InvalidInput(
                    f"pause until a date after today, at most {MAX_PAUSE_DAYS} days ahead",
                    field="until",
                    rule=f"must be within the next {MAX_PAUSE_DAYS} days",
                )
            changes.update(paused_until=until, next_delivery_on=next_delivery(until - timedelta(days=1)))
        elif cmd.target == SubscriptionStatus.ACTIVE:
            changes["next_delivery_on"] = next_delivery(today())
        else:
            changes["next_delivery_on"] = None
        return await update_row(conn, "subscription.subscriptions", cmd.subscription_id, changes, SUBSCRIPTION_COLUMNS)


async def update_subscription(cmd: UpdateSubscription, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        sub = await load_for_update(
            conn,
            "subscription.subscriptions",
            cmd.subscription_id,
            cmd.expected_version,
            "subscription",
            cmd.actor.customer_scope,
        )
        if sub["status"] == SubscriptionStatus.CANCELLED:
            raise Conflict("a cancelled subscription cannot change", rule="subscription must not be cancelled")
        changes: dict[str, Any] = {}
        if cmd.plan_id is not None and cmd.plan_id != sub["plan_id"]:
            await _check_plan(conn, cmd.plan_id)
            changes["plan_id"] = cmd.plan_id
        if cmd.location_id is not None and cmd.location_id != sub["location_id"]:
            await _check_location(conn, cmd.location_id)
            changes["location_id"] = cmd.location_id
        if not changes:
            return sub
        return await update_row(conn, "subscription.subscriptions", cmd.subscription_id, changes, SUBSCRIPTION_COLUMNS)
