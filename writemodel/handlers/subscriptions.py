"""Subscription context: plans (admin) and customers' meal-plan subscriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime

from writemodel.commands import (
    ChangeSubscriptionStatus,
    CreatePlan,
    RetirePlan,
    Subscribe,
    UpdatePlan,
    UpdateSubscription,
)
from writemodel.domain import subscriptions
from writemodel.domain.ordering import check_customer
from writemodel.domain.rules import loaded, loaded_for
from writemodel.domain.subscriptions import NewPlan, Plan, Subscription
from writemodel.repositories import DuplicateKey, Lock
from writemodel.uow import UnitOfWork


def today() -> date:
    return datetime.now(UTC).date()


async def create_plan(cmd: CreatePlan, uow: UnitOfWork) -> Plan:
    try:
        async with uow:
            return await uow.plans.add(NewPlan(cmd.code, cmd.name, cmd.meals_per_week, cmd.price_cents))
    except DuplicateKey as exc:
        raise subscriptions.duplicate_code(cmd.code) from exc


async def update_plan(cmd: UpdatePlan, uow: UnitOfWork) -> Plan:
    async with uow:
        plan = loaded(await uow.plans.get(cmd.plan_id, Lock.UPDATE), "plan", cmd.plan_id, cmd.expected_version)
        edited = subscriptions.edit_plan(plan, cmd.patch)
        return plan if edited is None else await uow.plans.save(edited)


async def retire_plan(cmd: RetirePlan, uow: UnitOfWork) -> Plan:
    async with uow:
        plan = loaded(await uow.plans.get(cmd.plan_id, Lock.UPDATE), "plan", cmd.plan_id, cmd.expected_version)
        return await uow.plans.save(subscriptions.retire_plan(plan))


async def subscribe(cmd: Subscribe, uow: UnitOfWork) -> Subscription:
    async with uow:
        check_customer(await uow.customers.get(cmd.customer_id), cmd.customer_id)
        subscriptions.check_plan_open(await uow.plans.get(cmd.plan_id, Lock.SHARE), cmd.plan_id)
        subscriptions.check_pickup_location(await uow.locations.get(cmd.location_id, Lock.SHARE), cmd.location_id)
        new = subscriptions.new_subscription(cmd.customer_id, cmd.plan_id, cmd.location_id, today())
        return await uow.subscriptions.add(new)


async def _load(
    cmd: ChangeSubscriptionStatus | UpdateSubscription, uow: UnitOfWork, version: int | None
) -> Subscription:
    found = await uow.subscriptions.get(cmd.subscription_id, Lock.UPDATE)
    return loaded_for(found, "subscription", cmd.subscription_id, version, cmd.actor.customer_scope)


async def change_subscription_status(cmd: ChangeSubscriptionStatus, uow: UnitOfWork) -> Subscription:
    async with uow:
        sub = await _load(cmd, uow, cmd.expected_version)
        return await uow.subscriptions.save(subscriptions.change_status(sub, cmd.target, cmd.paused_until, today()))


async def update_subscription(cmd: UpdateSubscription, uow: UnitOfWork) -> Subscription:
    async with uow:
        sub = await _load(cmd, uow, cmd.expected_version)
        plan_id, location_id = subscriptions.wanted_moves(sub, cmd.plan_id, cmd.location_id)
        plan = await uow.plans.get(plan_id, Lock.SHARE) if plan_id else None
        location = await uow.locations.get(location_id, Lock.SHARE) if location_id else None
        moved = subscriptions.move(sub, plan_id, plan, location_id, location)
        return sub if moved is None else await uow.subscriptions.save(moved)
