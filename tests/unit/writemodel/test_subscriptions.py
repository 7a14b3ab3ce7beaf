"""Subscription rules: plans (unique code, edits, retiring), subscribing, pause/resume/cancel with their
delivery dates, moving plan or pick-up location, versions and customer scope."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from farmacy.errors import Conflict, InvalidInput, InvalidTransition, NotFound, ReferenceNotFound, VersionMismatch
from farmacy.vocabulary import LocationKind, LocationStatus, PlanStatus, SubscriptionStatus
from tests.unit.writemodel.fakes import FakeUnitOfWork, run
from tests.unit.writemodel.rules import refused
from writemodel.commands import (
    Actor,
    ChangeSubscriptionStatus,
    CreatePlan,
    PlanPatch,
    RetirePlan,
    Subscribe,
    UpdatePlan,
    UpdateSubscription,
)
from writemodel.domain.subscriptions import MAX_PAUSE_DAYS, SUBSCRIPTION_TRANSITIONS, next_delivery
from writemodel.domain.subscriptions import Subscription as Sub
from writemodel.handlers import subscriptions

ADMIN = Actor("admin-1", "admin")
S = SubscriptionStatus


def today() -> date:
    return datetime.now(UTC).date()


# --- plans ---------------------------------------------------------------------------------------------


def test_a_new_plan_is_active_at_version_1() -> None:
    plan = run(subscriptions.create_plan(CreatePlan("five-a-week", "Five", 5, 5495), FakeUnitOfWork()))
    assert (plan.status, plan.version) == (PlanStatus.ACTIVE, 1)


def test_a_plan_code_is_unique() -> None:
    uow = FakeUnitOfWork()
    run(subscriptions.create_plan(CreatePlan("five-a-week", "Five", 5, 5495), uow))
    cmd = CreatePlan("five-a-week", "Other", 3, 100)
    refused(Conflict, lambda: subscriptions.create_plan(cmd, uow), "code", "must be unique", uow)


def test_editing_a_plan_applies_the_patch_and_bumps_the_version() -> None:
    uow = FakeUnitOfWork()
    plan = uow.store.plan()
    edited = run(subscriptions.update_plan(UpdatePlan(plan.id, 1, PlanPatch(price_cents=5295)), uow))
    assert (edited.price_cents, edited.name, edited.version) == (5295, plan.name, 2)
    assert run(subscriptions.update_plan(UpdatePlan(plan.id, 2, PlanPatch()), uow)) == edited  # empty patch


def test_editing_a_plan_with_a_stale_version_is_version_mismatch() -> None:
    uow = FakeUnitOfWork()
    plan = uow.store.plan()
    cmd = UpdatePlan(plan.id, 4, PlanPatch(name="x"))
    refused(VersionMismatch, lambda: subscriptions.update_plan(cmd, uow), "If-Match", "must match", uow)


def test_editing_a_retired_plan_is_conflict() -> None:
    uow = FakeUnitOfWork()
    plan = uow.store.plan(PlanStatus.RETIRED)
    cmd = UpdatePlan(plan.id, 1, PlanPatch(name="x"))
    refused(Conflict, lambda: subscriptions.update_plan(cmd, uow), None, "plan must not be retired", uow)


def test_retiring_is_final() -> None:
    uow = FakeUnitOfWork()
    plan = uow.store.plan()
    assert run(subscriptions.retire_plan(RetirePlan(plan.id), uow)).status == PlanStatus.RETIRED
    rule = "valid plan status transition"
    refused(InvalidTransition, lambda: subscriptions.retire_plan(RetirePlan(plan.id), uow), "status", rule, uow)


def test_retiring_an_unknown_plan_is_not_found() -> None:
    refused(NotFound, lambda: subscriptions.retire_plan(RetirePlan(uuid.uuid4()), FakeUnitOfWork()), None)


# --- subscribing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "monday"),
    [
        (date(2026, 3, 2), date(2026, 3, 9)),  # a Monday: the next one, not the same day
        (date(2026, 3, 3), date(2026, 3, 9)),
        (date(2026, 3, 8), date(2026, 3, 9)),  # a Sunday
    ],
)
def test_deliveries_go_out_on_the_next_monday_strictly_after(after: date, monday: date) -> None:
    assert next_delivery(after) == monday and monday.weekday() == 0


def test_subscribing_starts_active_with_the_next_monday_delivery() -> None:
    uow = FakeUnitOfWork()
    customer, plan, loc = uow.store.customer(), uow.store.plan(), uow.store.location()
    sub = run(subscriptions.subscribe(Subscribe(customer.id, plan.id, loc.id), uow))
    assert (sub.status, sub.paused_until, sub.next_delivery_on) == (S.ACTIVE, None, next_delivery(today()))


@pytest.mark.parametrize(
    ("missing", "field", "rule"),
    [
        ("customer", "customer_id", "must reference a registered customer"),
        ("plan", "plan_id", "must reference an existing plan"),
        ("location", "location_id", "must reference an existing location"),
    ],
)
def test_subscribing_with_an_unknown_reference_is_reference_not_found(missing: str, field: str, rule: str) -> None:
    uow = FakeUnitOfWork()
    ids = {"customer": uow.store.customer().id, "plan": uow.store.plan().id, "location": uow.store.location().id}
    ids[missing] = uuid.uuid4()
    cmd = Subscribe(ids["customer"], ids["plan"], ids["location"])
    refused(ReferenceNotFound, lambda: subscriptions.subscribe(cmd, uow), field, rule, uow)


def test_subscribing_to_a_retired_plan_is_conflict_on_plan_id() -> None:
    uow = FakeUnitOfWork()
    customer, plan, loc = uow.store.customer(), uow.store.plan(PlanStatus.RETIRED), uow.store.location()
    cmd = Subscribe(customer.id, plan.id, loc.id)
    refused(Conflict, lambda: subscriptions.subscribe(cmd, uow), "plan_id", "plan must be active", uow)


@pytest.mark.parametrize(
    ("kind", "status"),
    [(LocationKind.SMART_FRIDGE, LocationStatus.DECOMMISSIONED), (LocationKind.KIOSK, LocationStatus.CLOSED)],
)
def test_a_retired_pickup_location_is_conflict(kind: LocationKind, status: LocationStatus) -> None:
    uow = FakeUnitOfWork()
    customer, plan, loc = uow.store.customer(), uow.store.plan(), uow.store.location(kind, status)
    cmd = Subscribe(customer.id, plan.id, loc.id)
    rule = "pick-up location must not be decommissioned or closed"
    refused(Conflict, lambda: subscriptions.subscribe(cmd, uow), "location_id", rule, uow)


def test_a_pickup_location_out_of_service_for_now_is_accepted() -> None:
    uow = FakeUnitOfWork()
    customer, plan = uow.store.customer(), uow.store.plan()
    loc = uow.store.location(status=LocationStatus.MAINTENANCE)
    assert run(subscriptions.subscribe(Subscribe(customer.id, plan.id, loc.id), uow)).status == S.ACTIVE


# --- pause, resume, cancel -----------------------------------------------------------------------------


def _subscribed(status: S = S.ACTIVE) -> tuple[FakeUnitOfWork, Sub]:
    uow = FakeUnitOfWork()
    until = today() + timedelta(days=10) if status is S.PAUSED else None
    sub = uow.store.subscription(uow.store.customer(), uow.store.plan(), uow.store.location(), status, until)
    return uow, sub


def _change(
    sub: Sub, target: S, until: date | None = None, actor: Actor = ADMIN, version: int | None = None
) -> ChangeSubscriptionStatus:
    return ChangeSubscriptionStatus(sub.id, target, actor, until, version)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_subscription_status_changes_follow_active_paused_cancelled(current: S, target: S) -> None:
    uow, sub = _subscribed(current)
    cmd = _change(sub, target, today() + timedelta(days=7))
    if target in SUBSCRIPTION_TRANSITIONS[current]:
        assert run(subscriptions.change_subscription_status(cmd, uow)).status == target
    else:
        rule = "valid subscription status transition"
        refused(InvalidTransition, lambda: subscriptions.change_subscription_status(cmd, uow), "status", rule, uow)


@pytest.mark.parametrize("days", [None, -3, 0, MAX_PAUSE_DAYS + 1])
def test_a_pause_ends_after_today_and_at_most_180_days_ahead(days: int | None) -> None:
    uow, sub = _subscribed()
    until = None if days is None else today() + timedelta(days=days)
    cmd = _change(sub, S.PAUSED, until)
    rule = f"must be within the next {MAX_PAUSE_DAYS} days"
    refused(InvalidInput, lambda: subscriptions.change_subscription_status(cmd, uow), "until", rule, uow)


@pytest.mark.parametrize("days", [1, 9, MAX_PAUSE_DAYS])
def test_a_pause_skips_deliveries_until_the_first_monday_on_or_after_its_end(days: int) -> None:
    uow, sub = _subscribed()
    until = today() + timedelta(days=days)
    paused = run(subscriptions.change_subscription_status(_change(sub, S.PAUSED, until), uow))
    assert (paused.status, paused.paused_until, paused.version) == (S.PAUSED, until, 2)
    assert paused.next_delivery_on is not None and paused.next_delivery_on.weekday() == 0
    assert until <= paused.next_delivery_on < until + timedelta(days=7)


def test_resuming_delivers_next_monday_and_clears_the_pause() -> None:
    uow, sub = _subscribed(S.PAUSED)
    resumed = run(subscriptions.change_subscription_status(_change(sub, S.ACTIVE), uow))
    assert (resumed.status, resumed.paused_until, resumed.next_delivery_on) == (S.ACTIVE, None, next_delivery(today()))


def test_cancelling_stops_deliveries() -> None:
    uow, sub = _subscribed(S.PAUSED)
    cancelled = run(subscriptions.change_subscription_status(_change(sub, S.CANCELLED), uow))
    assert (cancelled.status, cancelled.paused_until, cancelled.next_delivery_on) == (S.CANCELLED, None, None)


def test_a_status_change_with_a_stale_version_is_version_mismatch() -> None:
    uow, sub = _subscribed()
    cmd = _change(sub, S.CANCELLED, version=2)
    refused(VersionMismatch, lambda: subscriptions.change_subscription_status(cmd, uow), "If-Match", uow=uow)


def test_another_customers_subscription_is_not_found() -> None:
    uow, sub = _subscribed()
    stranger = Actor("customer-x", "customer", uuid.uuid4())
    cmd = _change(sub, S.CANCELLED, actor=stranger, version=5)  # NotFound wins over the version
    refused(NotFound, lambda: subscriptions.change_subscription_status(cmd, uow), None, uow=uow)
    move = UpdateSubscription(sub.id, stranger, 1, plan_id=uow.store.plan().id)
    refused(NotFound, lambda: subscriptions.update_subscription(move, uow), None)


def test_a_customer_may_change_their_own_subscription() -> None:
    uow, sub = _subscribed()
    owner = Actor("customer-1", "customer", sub.customer_id)
    assert (
        run(subscriptions.change_subscription_status(_change(sub, S.CANCELLED, actor=owner), uow)).status == S.CANCELLED
    )


# --- moving plan or location ---------------------------------------------------------------------------


def test_moving_to_another_active_plan_and_location_bumps_the_version_once() -> None:
    uow, sub = _subscribed()
    plan, loc = uow.store.plan(), uow.store.location()
    moved = run(subscriptions.update_subscription(UpdateSubscription(sub.id, ADMIN, 1, plan.id, loc.id), uow))
    assert (moved.plan_id, moved.location_id, moved.version) == (plan.id, loc.id, 2)


def test_asking_for_the_current_plan_and_location_changes_nothing() -> None:
    uow, sub = _subscribed()
    same = UpdateSubscription(sub.id, ADMIN, 1, sub.plan_id, sub.location_id)
    assert run(subscriptions.update_subscription(same, uow)) == sub
    assert run(subscriptions.update_subscription(UpdateSubscription(sub.id, ADMIN, 1), uow)) == sub


def test_moving_to_a_retired_plan_is_conflict_on_plan_id() -> None:
    uow, sub = _subscribed()
    cmd = UpdateSubscription(sub.id, ADMIN, 1, plan_id=uow.store.plan(PlanStatus.RETIRED).id)
    refused(Conflict, lambda: subscriptions.update_subscription(cmd, uow), "plan_id", "plan must be active", uow)


def test_moving_to_an_unknown_plan_is_reference_not_found() -> None:
    uow, sub = _subscribed()
    cmd = UpdateSubscription(sub.id, ADMIN, 1, plan_id=uuid.uuid4())
    refused(ReferenceNotFound, lambda: subscriptions.update_subscription(cmd, uow), "plan_id", uow=uow)


def test_moving_to_a_decommissioned_location_is_conflict_on_location_id() -> None:
    uow, sub = _subscribed()
    loc = uow.store.location(status=LocationStatus.DECOMMISSIONED)
    cmd = UpdateSubscription(sub.id, ADMIN, 1, location_id=loc.id)
    rule = "must not be decommissioned or closed"
    refused(Conflict, lambda: subscriptions.update_subscription(cmd, uow), "location_id", rule, uow)


def test_a_cancelled_subscription_cannot_move() -> None:
    uow, sub = _subscribed(S.CANCELLED)
    cmd = UpdateSubscription(sub.id, ADMIN, 1, plan_id=uow.store.plan().id)
    rule = "subscription must not be cancelled"
    refused(Conflict, lambda: subscriptions.update_subscription(cmd, uow), None, rule, uow)


def test_moving_with_a_stale_version_is_version_mismatch() -> None:
    uow, sub = _subscribed()
    cmd = UpdateSubscription(sub.id, ADMIN, 9, plan_id=uow.store.plan().id)
    refused(VersionMismatch, lambda: subscriptions.update_subscription(cmd, uow), "If-Match", uow=uow)
