"""Inventory rules: delta signs, references, never below zero or the reservations, counts, the ledger."""

from __future__ import annotations

import uuid

import pytest

from farmacy.errors import Conflict, InsufficientStock, InvalidInput, ReferenceNotFound
from farmacy.vocabulary import AdjustmentReason, LedgerReason, LocationKind, LocationStatus, MealStatus
from tests.unit.writemodel.fakes import FakeUnitOfWork, run
from tests.unit.writemodel.rules import refused
from writemodel.commands import Actor, AdjustStock, CountStock
from writemodel.domain.inventory import StockKey
from writemodel.handlers import inventory

ADMIN = Actor("admin-1", "admin")
R = AdjustmentReason


def _world(
    on_hand: int = 0, reserved: int = 0, meal: MealStatus = MealStatus.ACTIVE
) -> tuple[FakeUnitOfWork, StockKey]:
    uow = FakeUnitOfWork()
    m, loc = uow.store.meal(meal), uow.store.location()
    return uow, uow.store.stocked(loc, m, on_hand, reserved)


def _adjust(key: StockKey, delta: int, reason: AdjustmentReason = R.CORRECTION) -> AdjustStock:
    return AdjustStock(key.location_id, key.meal_id, delta, reason, ADMIN, "note")


@pytest.mark.parametrize(
    ("reason", "delta", "rule"),
    [
        (R.REPLENISH, -5, "reason 'replenish' needs a positive delta"),
        (R.REMOVE, 1, "reason 'remove' needs a negative delta"),
        (R.EXPIRED, 2, "reason 'expired' needs a negative delta"),
        (R.DAMAGED, 3, "reason 'damaged' needs a negative delta"),
        (R.CORRECTION, 0, "delta must not be zero"),
        (R.REPLENISH, 0, "delta must not be zero"),
    ],
)
def test_the_delta_sign_must_fit_the_reason(reason: AdjustmentReason, delta: int, rule: str) -> None:
    uow, key = _world(on_hand=10)
    refused(InvalidInput, lambda: inventory.adjust_stock(_adjust(key, delta, reason), uow), "delta", rule, uow)


@pytest.mark.parametrize(
    ("reason", "delta"),
    [(R.REPLENISH, 4), (R.REMOVE, -4), (R.EXPIRED, -1), (R.DAMAGED, -2), (R.CORRECTION, 3), (R.CORRECTION, -3)],
)
def test_an_adjustment_changes_on_hand_and_appends_one_ledger_entry(reason: AdjustmentReason, delta: int) -> None:
    uow, key = _world(on_hand=5)
    result = run(inventory.adjust_stock(_adjust(key, delta, reason), uow))
    assert (result.on_hand, result.delta, result.reason, result.version) == (5 + delta, delta, reason.value, 2)
    [entry] = uow.store.entries(key)
    assert (entry.delta, entry.reason, entry.actor, entry.note) == (
        delta,
        LedgerReason(reason.value),
        "admin-1",
        "note",
    )
    assert result.adjustment_id == uow.store.ledger[-1][0]


def test_the_first_adjustment_of_a_meal_at_a_location_creates_its_stock_row() -> None:
    uow = FakeUnitOfWork()
    meal, loc = uow.store.meal(), uow.store.location()
    key = StockKey(loc.id, meal.id)
    result = run(inventory.adjust_stock(_adjust(key, 3, R.REPLENISH), uow))
    assert (result.on_hand, result.reserved) == (3, 0) and key in uow.store.stock


def test_stock_never_goes_below_zero() -> None:
    uow, key = _world(on_hand=2)
    error = refused(
        InsufficientStock,
        lambda: inventory.adjust_stock(_adjust(key, -3, R.REMOVE), uow),
        "delta",
        "never below zero",
        uow,
    )
    assert error.extra == {"on_hand": 2, "reserved": 0}


def test_stock_never_goes_below_what_is_reserved() -> None:
    uow, key = _world(on_hand=5, reserved=3)
    rule = "stock must stay at or above the reserved quantity"
    error = refused(InsufficientStock, lambda: inventory.adjust_stock(_adjust(key, -3), uow), "delta", rule, uow)
    assert error.extra == {"on_hand": 5, "reserved": 3}
    assert run(inventory.adjust_stock(_adjust(key, -2), uow)).on_hand == 3  # down to the reservations is fine


def test_an_adjustment_at_an_unknown_location_or_of_an_unknown_meal_is_reference_not_found() -> None:
    uow, key = _world(on_hand=5)
    at_nowhere = StockKey(uuid.uuid4(), key.meal_id)
    refused(
        ReferenceNotFound,
        lambda: inventory.adjust_stock(_adjust(at_nowhere, 1), uow),
        "location_id",
        "existing location",
        uow,
    )
    of_nothing = StockKey(key.location_id, uuid.uuid4())
    refused(
        ReferenceNotFound, lambda: inventory.adjust_stock(_adjust(of_nothing, 1), uow), "meal_id", "existing meal", uow
    )


@pytest.mark.parametrize(
    ("kind", "status", "delta"),
    [
        (LocationKind.SMART_FRIDGE, LocationStatus.DECOMMISSIONED, 3),
        (LocationKind.SMART_FRIDGE, LocationStatus.DECOMMISSIONED, -1),
        (LocationKind.KIOSK, LocationStatus.CLOSED, -1),
    ],
)
def test_stock_at_a_decommissioned_or_closed_location_cannot_change(
    kind: LocationKind, status: LocationStatus, delta: int
) -> None:
    uow = FakeUnitOfWork()
    meal, loc = uow.store.meal(), uow.store.location(kind, status)
    key = uow.store.stocked(loc, meal, 5)
    rule = "location must not be decommissioned or closed"
    refused(Conflict, lambda: inventory.adjust_stock(_adjust(key, delta), uow), "location_id", rule, uow)
    refused(
        Conflict, lambda: inventory.count_stock(CountStock(loc.id, meal.id, 1, ADMIN), uow), "location_id", rule, uow
    )


@pytest.mark.parametrize("status", [LocationStatus.OFFLINE, LocationStatus.MAINTENANCE, LocationStatus.OUT_OF_ORDER])
def test_a_location_out_of_service_still_takes_stock(status: LocationStatus) -> None:
    uow = FakeUnitOfWork()
    meal, loc = uow.store.meal(), uow.store.location(status=status)
    assert run(inventory.adjust_stock(_adjust(StockKey(loc.id, meal.id), 2, R.REPLENISH), uow)).on_hand == 2


def test_a_retired_meal_cannot_be_stocked_but_what_is_left_can_be_removed() -> None:
    uow, key = _world(on_hand=2, meal=MealStatus.RETIRED)
    rule = "meal must not be retired"
    refused(Conflict, lambda: inventory.adjust_stock(_adjust(key, 4, R.REPLENISH), uow), "meal_id", rule, uow)
    assert run(inventory.adjust_stock(_adjust(key, -2, R.REMOVE), uow)).on_hand == 0


def test_a_count_sets_on_hand_and_appends_the_difference_as_count() -> None:
    uow, key = _world(on_hand=10)
    result = run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 7, ADMIN, "weekly"), uow))
    assert (result.on_hand, result.delta, result.version) == (7, -3, 2) and result.adjustment_id is not None
    [entry] = uow.store.entries(key)
    assert (entry.delta, entry.reason, entry.note) == (-3, LedgerReason.COUNT, "weekly")
    assert run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 12, ADMIN), uow)).delta == 5


def test_a_count_equal_to_on_hand_writes_no_ledger_entry_and_keeps_the_version() -> None:
    uow, key = _world(on_hand=4)
    result = run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 4, ADMIN), uow))
    assert (result.adjustment_id, result.delta, result.on_hand, result.version) == (None, 0, 4, 1)
    assert uow.store.entries(key) == []


def test_a_count_below_the_reservations_is_insufficient_stock() -> None:
    uow, key = _world(on_hand=5, reserved=3)
    cmd = CountStock(key.location_id, key.meal_id, 2, ADMIN)
    rule = "a count cannot be below the reserved quantity"
    error = refused(InsufficientStock, lambda: inventory.count_stock(cmd, uow), "counted", rule, uow)
    assert error.extra == {"on_hand": 5, "reserved": 3}
    assert run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 3, ADMIN), uow)).on_hand == 3


def test_a_count_may_find_fewer_units_of_a_retired_meal_never_more() -> None:
    uow, key = _world(on_hand=5, meal=MealStatus.RETIRED)
    more = CountStock(key.location_id, key.meal_id, 8, ADMIN)
    refused(Conflict, lambda: inventory.count_stock(more, uow), "meal_id", "meal must not be retired", uow)
    assert run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 3, ADMIN), uow)).delta == -2


def test_a_count_of_an_unknown_meal_is_reference_not_found() -> None:
    uow, key = _world()
    cmd = CountStock(key.location_id, uuid.uuid4(), 1, ADMIN)
    refused(ReferenceNotFound, lambda: inventory.count_stock(cmd, uow), "meal_id", uow=uow)


def test_the_ledger_sums_to_on_hand_after_adjustments_and_counts() -> None:
    uow, key = _world()
    for delta, reason in [(20, R.REPLENISH), (-2, R.DAMAGED), (-1, R.EXPIRED), (3, R.CORRECTION)]:
        run(inventory.adjust_stock(_adjust(key, delta, reason), uow))
    run(inventory.count_stock(CountStock(key.location_id, key.meal_id, 15, ADMIN), uow))
    run(inventory.adjust_stock(_adjust(key, -1, R.REMOVE), uow))
    assert sum(e.delta for e in uow.store.entries(key)) == uow.store.stock[key].on_hand == 14
