"""Ordering rules: customers, the pick-up window, placing (references, operational location, active meals,
all-or-nothing reservations), order transitions and their stock effects, versions and customer scope."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from farmacy.errors import (
    Conflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    NotFound,
    ReferenceNotFound,
    VersionMismatch,
)
from farmacy.vocabulary import LedgerReason, LocationKind, LocationStatus, MealStatus, OrderStatus
from tests.unit.writemodel.fakes import FakeUnitOfWork, run
from tests.unit.writemodel.rules import refused
from writemodel.commands import Actor, ChangeOrderStatus, OrderLine, PlaceOrder, RegisterCustomer
from writemodel.domain.catalog import Meal
from writemodel.domain.inventory import StockKey
from writemodel.domain.locations import Location
from writemodel.domain.ordering import ORDER_TRANSITIONS, check_pickup_window, reservation_order
from writemodel.handlers import ordering

ADMIN = Actor("admin-1", "admin")
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _place(customer_id: uuid.UUID, location: Location, lines: Sequence[tuple[Meal | uuid.UUID, int]]) -> PlaceOrder:
    start = datetime.now(UTC) + timedelta(hours=1)
    return PlaceOrder(
        customer_id,
        location.id,
        start,
        start + timedelta(hours=2),
        [OrderLine(m if isinstance(m, uuid.UUID) else m.id, q) for m, q in lines],
    )


def _shop(*on_hand: int) -> tuple[FakeUnitOfWork, uuid.UUID, Location, list[Meal]]:
    """A customer, an online fridge and one active meal per ``on_hand`` value, stocked with it."""
    uow = FakeUnitOfWork()
    customer, loc = uow.store.customer(), uow.store.location()
    meals = [uow.store.meal(price_cents=100 * (i + 1)) for i in range(len(on_hand))]
    for meal, units in zip(meals, on_hand, strict=True):
        uow.store.stocked(loc, meal, units)
    return uow, customer.id, loc, meals


# --- customers -----------------------------------------------------------------------------------------


def test_registering_a_customer_creates_it_at_version_1() -> None:
    uow = FakeUnitOfWork()
    customer = run(ordering.register_customer(RegisterCustomer("ada@example.com", "Ada"), uow))
    assert (customer.email, customer.version) == ("ada@example.com", 1)


def test_an_email_registers_once_in_any_letter_case() -> None:
    uow = FakeUnitOfWork()
    run(ordering.register_customer(RegisterCustomer("ada@example.com", "Ada"), uow))
    cmd = RegisterCustomer("ADA@Example.com", "Other")
    refused(Conflict, lambda: ordering.register_customer(cmd, uow), "email", "must be unique", uow)


# --- pick-up window ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field", "rule"),
    [
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), "pickup_until", "must be after pickup_from"),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=2), "pickup_until", "must be after pickup_from"),
        (NOW - timedelta(hours=3), NOW - timedelta(hours=1), "pickup_until", "must be in the future"),
        (NOW - timedelta(hours=3), NOW, "pickup_until", "must be in the future"),
        (NOW + timedelta(hours=1), NOW + timedelta(hours=13, minutes=1), "pickup_until", "window at most 12h"),
        (
            NOW + timedelta(days=14, minutes=1),
            NOW + timedelta(days=14, hours=1),
            "pickup_from",
            "at most 14 days ahead",
        ),
    ],
)
def test_a_pickup_window_that_breaks_a_rule_is_invalid_input(
    start: datetime, end: datetime, field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        check_pickup_window(start, end, NOW)
    assert (info.value.field, info.value.rule) == (field, rule)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOW - timedelta(hours=1), NOW + timedelta(minutes=1)),  # already open, not yet over
        (NOW + timedelta(hours=1), NOW + timedelta(hours=13)),  # exactly 12 hours
        (NOW + timedelta(days=14), NOW + timedelta(days=14, hours=1)),  # starts exactly 14 days ahead
    ],
)
def test_a_pickup_window_within_the_rules_is_accepted(start: datetime, end: datetime) -> None:
    check_pickup_window(start, end, NOW)


def test_placing_with_a_window_that_is_over_writes_nothing() -> None:
    uow, customer, loc, [meal] = _shop(5)
    past = datetime.now(UTC) - timedelta(hours=2)
    cmd = PlaceOrder(customer, loc.id, past, past + timedelta(hours=1), [OrderLine(meal.id, 1)])
    refused(InvalidInput, lambda: ordering.place_order(cmd, uow), "pickup_until", "must be in the future", uow)


# --- placing -------------------------------------------------------------------------------------------


def test_placing_reserves_every_line_and_totals_the_unit_prices() -> None:
    uow, customer, loc, [soup, bowl] = _shop(5, 3)
    order = run(ordering.place_order(_place(customer, loc, [(soup, 2), (bowl, 3)]), uow))
    assert (order.status, order.version, order.total_cents) == (OrderStatus.PLACED, 1, 2 * 100 + 3 * 200)
    assert [(line.line_no, line.meal_id, line.quantity, line.unit_price_cents) for line in order.lines] == [
        (1, soup.id, 2, 100),
        (2, bowl.id, 3, 200),
    ]
    assert uow.store.stock[StockKey(loc.id, soup.id)].reserved == 2
    assert uow.store.stock[StockKey(loc.id, bowl.id)].reserved == 3
    assert uow.store.ledger == []  # reserving is not an on_hand change


def test_placing_for_an_unknown_customer_is_reference_not_found() -> None:
    uow, _, loc, [meal] = _shop(5)
    cmd = _place(uuid.uuid4(), loc, [(meal, 1)])
    refused(ReferenceNotFound, lambda: ordering.place_order(cmd, uow), "customer_id", "registered customer", uow)


def test_placing_at_an_unknown_location_is_reference_not_found() -> None:
    uow, customer, _, [meal] = _shop(5)
    cmd = _place(customer, FakeUnitOfWork().store.location(), [(meal, 1)])
    refused(ReferenceNotFound, lambda: ordering.place_order(cmd, uow), "location_id", "existing location", uow)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (LocationKind.SMART_FRIDGE, s)
        for s in LocationStatus
        if s not in ("online", "open", "closed", "closed_temporarily")
    ]
    + [(LocationKind.KIOSK, LocationStatus.CLOSED_TEMPORARILY), (LocationKind.RESTAURANT, LocationStatus.CLOSED)],
)
def test_placing_at_a_location_that_is_not_operational_is_conflict(kind: LocationKind, status: LocationStatus) -> None:
    uow, customer, _, [meal] = _shop(0)
    loc = uow.store.location(kind, status)
    uow.store.stocked(loc, meal, 5)
    cmd = _place(customer, loc, [(meal, 1)])
    refused(Conflict, lambda: ordering.place_order(cmd, uow), "location_id", "location must be operational", uow)


@pytest.mark.parametrize("kind", [LocationKind.KIOSK, LocationKind.RESTAURANT])
def test_an_open_storefront_takes_orders(kind: LocationKind) -> None:
    uow, customer, _, [meal] = _shop(0)
    loc = uow.store.location(kind, LocationStatus.OPEN)
    uow.store.stocked(loc, meal, 5)
    assert run(ordering.place_order(_place(customer, loc, [(meal, 1)]), uow)).status == OrderStatus.PLACED


def test_a_line_naming_an_unknown_meal_is_reference_not_found_on_that_line() -> None:
    uow, customer, loc, [meal] = _shop(5)
    cmd = _place(customer, loc, [(meal, 1), (uuid.uuid4(), 1)])
    refused(ReferenceNotFound, lambda: ordering.place_order(cmd, uow), "lines.1.meal_id", "existing meal", uow)


@pytest.mark.parametrize("status", [MealStatus.DRAFT, MealStatus.RETIRED])
def test_a_line_naming_a_meal_that_is_not_active_is_conflict_on_that_line(status: MealStatus) -> None:
    uow, customer, loc, _ = _shop()
    meal = uow.store.meal(status)
    uow.store.stocked(loc, meal, 5)
    cmd = _place(customer, loc, [(meal, 1)])
    refused(Conflict, lambda: ordering.place_order(cmd, uow), "lines.0.meal_id", "meal must be active", uow)


def test_short_lines_refuse_the_whole_order_naming_each_and_reserving_nothing() -> None:
    uow, customer, loc, [ok, short_a, short_b] = _shop(5, 1, 0)
    cmd = _place(customer, loc, [(ok, 2), (short_a, 2), (short_b, 1)])
    rule = "quantity must not exceed what is available"
    error = refused(InsufficientStock, lambda: ordering.place_order(cmd, uow), "lines.1.quantity", rule, uow)
    assert error.extra == {
        "short_lines": [
            {"line": 1, "meal_id": str(short_a.id), "requested": 2, "available": 1},
            {"line": 2, "meal_id": str(short_b.id), "requested": 1, "available": 0},
        ]
    }
    assert uow.store.stock[StockKey(loc.id, ok.id)].reserved == 0  # rolled back with the rest


def test_what_is_reserved_is_not_available_to_the_next_order() -> None:
    uow, customer, loc, [meal] = _shop(3)
    run(ordering.place_order(_place(customer, loc, [(meal, 2)]), uow))
    cmd = _place(customer, loc, [(meal, 2)])
    error = refused(InsufficientStock, lambda: ordering.place_order(cmd, uow), "lines.0.quantity", uow=uow)
    assert error.extra["short_lines"][0]["available"] == 1


def test_stock_at_another_location_does_not_count_for_an_order() -> None:
    uow, customer, loc, [meal] = _shop(0)
    elsewhere = uow.store.location()
    uow.store.stocked(elsewhere, meal, 10)
    refused(
        InsufficientStock,
        lambda: ordering.place_order(_place(customer, loc, [(meal, 1)]), uow),
        "lines.0.quantity",
        uow=uow,
    )


def test_a_meal_never_stocked_at_the_location_is_short_with_nothing_available() -> None:
    uow, customer, loc, _ = _shop()
    meal = uow.store.meal()
    error = refused(
        InsufficientStock, lambda: ordering.place_order(_place(customer, loc, [(meal, 1)]), uow), "lines.0.quantity"
    )
    assert error.extra["short_lines"][0]["available"] == 0


def test_lines_are_reserved_in_meal_id_order_so_concurrent_orders_never_deadlock() -> None:
    ids = [uuid.UUID(int=n) for n in (3, 1, 2)]
    assert reservation_order([OrderLine(i, 1) for i in ids]) == [1, 2, 0]


# --- transitions ---------------------------------------------------------------------------------------


def _placed(status: OrderStatus = OrderStatus.PLACED, quantity: int = 2) -> tuple[FakeUnitOfWork, uuid.UUID, StockKey]:
    """An order of ``quantity`` units at an online fridge holding 5; reserved while placed or ready."""
    uow = FakeUnitOfWork()
    customer, loc, meal = uow.store.customer(), uow.store.location(), uow.store.meal()
    open_ = status in (OrderStatus.PLACED, OrderStatus.READY)
    key = uow.store.stocked(loc, meal, 5, quantity if open_ else 0)
    order = uow.store.order(customer, loc, [(meal, quantity)], status)
    return uow, order.id, key


@pytest.mark.parametrize(("current", "target"), list(itertools.product(OrderStatus, OrderStatus)))
def test_order_status_changes_follow_placed_ready_picked_up_or_cancelled(
    current: OrderStatus, target: OrderStatus
) -> None:
    uow, order_id, _ = _placed(current)
    cmd = ChangeOrderStatus(order_id, target, ADMIN)
    if target in ORDER_TRANSITIONS[current]:
        moved = run(ordering.change_order_status(cmd, uow))
        assert (moved.status, moved.version) == (target, 2)
    else:
        rule = "valid order status transition"
        refused(InvalidTransition, lambda: ordering.change_order_status(cmd, uow), "status", rule, uow)


@pytest.mark.parametrize("status", [OrderStatus.PLACED, OrderStatus.READY])
def test_cancelling_releases_the_reservation_and_writes_no_ledger_entry(status: OrderStatus) -> None:
    uow, order_id, key = _placed(status, quantity=2)
    run(ordering.change_order_status(ChangeOrderStatus(order_id, OrderStatus.CANCELLED, ADMIN), uow))
    stock = uow.store.stock[key]
    assert (stock.on_hand, stock.reserved) == (5, 0) and uow.store.ledger == []


def test_marking_ready_leaves_the_stock_alone() -> None:
    uow, order_id, key = _placed(quantity=2)
    before = uow.store.stock[key]
    run(ordering.change_order_status(ChangeOrderStatus(order_id, OrderStatus.READY, ADMIN), uow))
    assert uow.store.stock[key] == before


def test_pickup_consumes_the_reservation_and_writes_sale_entries_for_the_order() -> None:
    uow, order_id, key = _placed(OrderStatus.READY, quantity=2)
    run(ordering.change_order_status(ChangeOrderStatus(order_id, OrderStatus.PICKED_UP, ADMIN), uow))
    stock = uow.store.stock[key]
    assert (stock.on_hand, stock.reserved) == (3, 0)
    [sale] = uow.store.entries(key)
    assert (sale.delta, sale.reason, sale.order_id, sale.actor) == (-2, LedgerReason.SALE, order_id, "admin-1")


def test_a_status_change_with_a_stale_version_is_version_mismatch_and_keeps_the_reservation() -> None:
    uow, order_id, _ = _placed()
    cmd = ChangeOrderStatus(order_id, OrderStatus.CANCELLED, ADMIN, expected_version=3)
    refused(VersionMismatch, lambda: ordering.change_order_status(cmd, uow), "If-Match", "must match", uow)


def test_another_customers_order_is_not_found_even_with_a_wrong_version() -> None:
    uow, order_id, _ = _placed()
    stranger = Actor("customer-x", "customer", uuid.uuid4())
    for version in (None, 1, 99):
        cmd = ChangeOrderStatus(order_id, OrderStatus.CANCELLED, stranger, expected_version=version)
        with pytest.raises(NotFound, match="does not exist"):
            run(ordering.change_order_status(cmd, uow))
    assert uow.store.orders[order_id].status == OrderStatus.PLACED


def test_a_customer_may_change_their_own_order() -> None:
    uow, order_id, _ = _placed()
    owner = Actor("customer-1", "customer", uow.store.orders[order_id].customer_id)
    moved = run(ordering.change_order_status(ChangeOrderStatus(order_id, OrderStatus.CANCELLED, owner), uow))
    assert moved.status == OrderStatus.CANCELLED


def test_an_unknown_order_is_not_found() -> None:
    uow = FakeUnitOfWork()
    refused(
        NotFound,
        lambda: ordering.change_order_status(ChangeOrderStatus(uuid.uuid4(), OrderStatus.READY, ADMIN), uow),
        None,
    )


def test_admins_reach_every_customers_rows_and_customers_only_their_own() -> None:
    me = uuid.uuid4()
    assert ADMIN.customer_scope is None
    assert Actor("c", "customer", me).customer_scope == me
