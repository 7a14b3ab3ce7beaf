"""Subscription context: plans (admin) and customers' meal-plan subscriptions with weekly deliveries."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from farmacy.errors import Conflict, InvalidInput, InvalidTransition, ReferenceNotFound
from farmacy.vocabulary import PlanStatus, SubscriptionStatus
from writemodel.domain.locations import Location, is_retired
from writemodel.domain.rules import check_transition

SUBSCRIPTION_TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SubscriptionStatus.ACTIVE: frozenset({SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELLED}),
    SubscriptionStatus.PAUSED: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED}),
    SubscriptionStatus.CANCELLED: frozenset(),
}
MAX_PAUSE_DAYS = 180


@dataclass(frozen=True)
class NewPlan:
    code: str
    name: str
    meals_per_week: int
    price_cents: int


@dataclass(frozen=True)
class Plan:
    id: UUID
    code: str
    name: str
    meals_per_week: int
    price_cents: int
    status: PlanStatus
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PlanPatch:
    name: str | None = None
    meals_per_week: int | None = None
    price_cents: int | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class NewSubscription:
    customer_id: UUID
    plan_id: UUID
    location_id: UUID
    next_delivery_on: date


@dataclass(frozen=True)
class Subscription:
    id: UUID
    customer_id: UUID
    plan_id: UUID
    location_id: UUID
    status: SubscriptionStatus
    paused_until: date | None
    next_delivery_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


def next_delivery(after: date) -> date:
    """Deliveries go out on Mondays; the next one strictly after ``after``."""
    return after + timedelta(days=7 - after.weekday())


def duplicate_code(code: str) -> Conflict:
    return Conflict(f"a plan with code '{code}' already exists", field="code", rule="must be unique")


def edit_plan(plan: Plan, patch: PlanPatch) -> Plan | None:
    """The plan with the patch applied; None when the patch changes nothing. A retired plan is frozen."""
    if plan.status == PlanStatus.RETIRED:
        raise Conflict("a retired plan cannot be edited", rule="plan must not be retired")
    values = patch.values()
    return replace(plan, **values) if values else None


def retire_plan(plan: Plan) -> Plan:
    if plan.status == PlanStatus.RETIRED:
        raise InvalidTransition("the plan is already retired", field="status", rule="valid plan status transition")
    return replace(plan, status=PlanStatus.RETIRED)


def check_plan_open(plan: Plan | None, plan_id: UUID) -> Plan:
    """A subscription may only move to (or start on) an existing, active plan."""
    if plan is None:
        raise ReferenceNotFound(
            f"plan {plan_id} does not exist", field="plan_id", rule="must reference an existing plan"
        )
    if plan.status != PlanStatus.ACTIVE:
        raise Conflict("this plan is retired", field="plan_id", rule="plan must be active")
    return plan


def check_pickup_location(location: Location | None, location_id: UUID) -> Location:
    """A pick-up location must exist and not be retired (it may be offline for now)."""
    if location is None:
        raise ReferenceNotFound(
            f"location {location_id} does not exist", field="location_id", rule="must reference an existing location"
        )
    if is_retired(location.status):
        raise Conflict(
            f"location is {location.status}",
            field="location_id",
            rule="pick-up location must not be decommissioned or closed",
        )
    return location


def new_subscription(customer_id: UUID, plan_id: UUID, location_id: UUID, today: date) -> NewSubscription:
    return NewSubscription(customer_id, plan_id, location_id, next_delivery(today))


def change_status(
    sub: Subscription, target: SubscriptionStatus, paused_until: date | None, today: date
) -> Subscription:
    """Pause until a date (after today, at most MAX_PAUSE_DAYS ahead), resume or cancel.

    A pause skips deliveries before ``paused_until``; resuming delivers next Monday; cancelling none."""
    check_transition("subscription", sub.status, target, SUBSCRIPTION_TRANSITIONS)
    if target == SubscriptionStatus.PAUSED:
        until = paused_until
        if until is None or until <= today or until > today + timedelta(days=MAX_PAUSE_DAYS):
            raise InvalidInput(
                f"pause until a date after today, at most {MAX_PAUSE_DAYS} days ahead",
                field="until",
                rule=f"must be within the next {MAX_PAUSE_DAYS} days",
            )
        return replace(
            sub, status=target, paused_until=until, next_delivery_on=next_delivery(until - timedelta(days=1))
        )
    if target == SubscriptionStatus.ACTIVE:
        return replace(sub, status=target, paused_until=None, next_delivery_on=next_delivery(today))
    return replace(sub, status=target, paused_until=None, next_delivery_on=None)


def wanted_moves(sub: Subscription, plan_id: UUID | None, location_id: UUID | None) -> tuple[UUID | None, UUID | None]:
    """The plan and pick-up location a change asks for that differ from the current ones (None: keep).
    A cancelled subscription cannot change at all."""
    if sub.status == SubscriptionStatus.CANCELLED:
        raise Conflict("a cancelled subscription cannot change", rule="subscription must not be cancelled")
    return (
        plan_id if plan_id is not None and plan_id != sub.plan_id else None,
        location_id if location_id is not None and location_id != sub.location_id else None,
    )


def move(
    sub: Subscription,
    plan_id: UUID | None,
    plan: Plan | None,
    location_id: UUID | None,
    location: Location | None,
) -> Subscription | None:
    """The subscription on the wanted plan and location (as loaded for ``wanted_moves``' ids); None when
    nothing changes. The plan must be open and the location not retired."""
    moved = sub
    if plan_id is not None:
        moved = replace(moved, plan_id=check_plan_open(plan, plan_id).id)
    if location_id is not None:
        moved = replace(moved, location_id=check_pickup_location(location, location_id).id)
    return None if moved is sub else moved
