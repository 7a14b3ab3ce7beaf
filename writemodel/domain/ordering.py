"""Ordering context: customers and orders. Placing reserves stock, cancelling releases it, pick-up
consumes it (as 'sale' entries on the ledger)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from uuid import UUID

from farmacy.errors import Conflict, InsufficientStock, InvalidInput, ReferenceNotFound
from farmacy.vocabulary import MealStatus, OrderStatus
from writemodel.domain.catalog import Meal
from writemodel.domain.locations import Location, is_operational
from writemodel.domain.rules import check_transition

ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.READY, OrderStatus.CANCELLED}),
    OrderStatus.READY: frozenset({OrderStatus.PICKED_UP, OrderStatus.CANCELLED}),
    OrderStatus.PICKED_UP: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# An order's pick-up window: at most this long, starting at most this far ahead.
MAX_PICKUP_WINDOW_HOURS = 12
MAX_PICKUP_DAYS_AHEAD = 14
MAX_ORDER_LINES = 20


@dataclass(frozen=True)
class Customer:
    id: UUID
    email: str
    name: str
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OrderLine:
    """A line as the customer asks for it."""

    meal_id: UUID
    quantity: int


@dataclass(frozen=True)
class PricedLine:
    line_no: int
    meal_id: UUID
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class NewOrder:
    customer_id: UUID
    location_id: UUID
    pickup_from: datetime
    pickup_until: datetime
    total_cents: int
    lines: tuple[PricedLine, ...]


@dataclass(frozen=True)
class Order:
    id: UUID
    customer_id: UUID
    location_id: UUID
    pickup_from: datetime
    pickup_until: datetime
    status: OrderStatus
    total_cents: int
    version: int
    created_at: datetime
    updated_at: datetime
    lines: tuple[PricedLine, ...]


@dataclass(frozen=True)
class ShortLine:
    line: int
    meal_id: UUID
    requested: int
    available: int


class StockEffect(Enum):
    """What a status change does to the stock of each line."""

    NONE = "none"
    RELEASE = "release"  # reserved -= quantity
    CONSUME = "consume"  # reserved and on_hand -= quantity, a 'sale' on the ledger


def duplicate_email() -> Conflict:
    return Conflict("a customer with this email is already registered", field="email", rule="must be unique")


def check_pickup_window(pickup_from: datetime, pickup_until: datetime, now: datetime) -> None:
    if pickup_until <= pickup_from:
        raise InvalidInput(
            "pickup_until must be after pickup_from", field="pickup_until", rule="must be after pickup_from"
        )
    if pickup_until <= now:
        raise InvalidInput("the pick-up window is already over", field="pickup_until", rule="must be in the future")
    if pickup_until - pickup_from > timedelta(hours=MAX_PICKUP_WINDOW_HOURS):
        raise InvalidInput(
            f"a pick-up window lasts at most {MAX_PICKUP_WINDOW_HOURS} hours",
            field="pickup_until",
            rule=f"window at most {MAX_PICKUP_WINDOW_HOURS}h",
        )
    if pickup_from > now + timedelta(days=MAX_PICKUP_DAYS_AHEAD):
        raise InvalidInput(
            f"pick-up starts at most {MAX_PICKUP_DAYS_AHEAD} days ahead",
            field="pickup_from",
            rule=f"at most {MAX_PICKUP_DAYS_AHEAD} days ahead",
        )


def check_customer(customer: Customer | None, customer_id: UUID) -> Customer:
    if customer is None:
        raise ReferenceNotFound(
            f"customer {customer_id} does not exist", field="customer_id", rule="must reference a registered customer"
        )
    return customer


def check_takes_orders(location: Location | None, location_id: UUID) -> Location:
    if location is None:
        raise ReferenceNotFound(
            f"location {location_id} does not exist", field="location_id", rule="must reference an existing location"
        )
    if not is_operational(location.status):
        raise Conflict(
            f"location is {location.status}, not taking orders",
            field="location_id",
            rule="location must be operational (online or open)",
        )
    return location


def check_meals_for_sale(lines: Sequence[OrderLine], meals: Mapping[UUID, Meal]) -> None:
    """Every line names an existing, active meal."""
    for i, line in enumerate(lines):
        meal = meals.get(line.meal_id)
        if meal is None:
            raise ReferenceNotFound(
                f"meal {line.meal_id} does not exist",
                field=f"lines.{i}.meal_id",
                rule="must reference an existing meal",
            )
        if meal.status != MealStatus.ACTIVE:
            raise Conflict(
                f"meal {line.meal_id} is {meal.status}, not for sale",
                field=f"lines.{i}.meal_id",
                rule="meal must be active",
            )


def reservation_order(lines: Sequence[OrderLine]) -> list[int]:
    """Indexes of the lines in meal-id order: concurrent orders lock stock rows in one order, never deadlock."""
    return sorted(range(len(lines)), key=lambda i: lines[i].meal_id)


def check_short_lines(short: Sequence[ShortLine]) -> None:
    """An order is reserved whole or not at all: any short line refuses it, naming all of them."""
    if not short:
        return
    ordered = sorted(short, key=lambda s: s.line)
    raise InsufficientStock(
        f"not enough stock for {', '.join(f'lines.{s.line}' for s in ordered)}",
        field=f"lines.{ordered[0].line}.quantity",
        rule="quantity must not exceed what is available",
        extra={
            "short_lines": [
                {"line": s.line, "meal_id": str(s.meal_id), "requested": s.requested, "available": s.available}
                for s in ordered
            ]
        },
    )


def new_order(
    customer_id: UUID,
    location_id: UUID,
    pickup_from: datetime,
    pickup_until: datetime,
    lines: Sequence[OrderLine],
    meals: Mapping[UUID, Meal],
) -> NewOrder:
    """The order at today's prices: lines numbered from 1 in the order given, total = sum of unit prices."""
    priced = tuple(
        PricedLine(n, line.meal_id, line.quantity, meals[line.meal_id].price_cents)
        for n, line in enumerate(lines, start=1)
    )
    total = sum(line.unit_price_cents * line.quantity for line in priced)
    return NewOrder(customer_id, location_id, pickup_from, pickup_until, total, priced)


def change_status(order: Order, target: OrderStatus) -> tuple[Order, StockEffect]:
    """The order in its new status, and what that does to the stock of its lines."""
    check_transition("order", order.status, target, ORDER_TRANSITIONS)
    effect = {OrderStatus.CANCELLED: StockEffect.RELEASE, OrderStatus.PICKED_UP: StockEffect.CONSUME}.get(
        target, StockEffect.NONE
    )
    return replace(order, status=target), effect


def lines_in_lock_order(order: Order) -> list[PricedLine]:
    """The order's lines in meal-id order, the order stock rows are locked in."""
    return sorted(order.lines, key=lambda line: line.meal_id)
