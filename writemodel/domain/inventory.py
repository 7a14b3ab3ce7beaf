"""Inventory context: stock per location and meal, and the rules every on_hand or reserved change obeys.

Invariants: 0 <= reserved <= on_hand, and the ledger of each (location, meal) sums to on_hand. The stores
apply the guarded changes (``can_change_on_hand``, ``can_reserve``) in one statement under the row's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from farmacy.errors import Conflict, InsufficientStock, InvalidInput, ReferenceNotFound
from farmacy.vocabulary import AdjustmentReason, LedgerReason, LocationStatus, MealStatus
from writemodel.domain.locations import is_retired

INCREASING_REASONS = frozenset({AdjustmentReason.REPLENISH})
DECREASING_REASONS = frozenset({AdjustmentReason.REMOVE, AdjustmentReason.EXPIRED, AdjustmentReason.DAMAGED})


@dataclass(frozen=True)
class StockKey:
    location_id: UUID
    meal_id: UUID


@dataclass(frozen=True)
class Stock:
    location_id: UUID
    meal_id: UUID
    on_hand: int
    reserved: int
    version: int
    updated_at: datetime

    @property
    def key(self) -> StockKey:
        return StockKey(self.location_id, self.meal_id)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def can_change_on_hand(self, delta: int) -> bool:
        """on_hand never drops below what is reserved (and so never below zero)."""
        return self.on_hand + delta >= self.reserved

    def can_reserve(self, quantity: int) -> bool:
        return self.available >= quantity


@dataclass(frozen=True)
class LedgerEntry:
    """One append-only ledger line: every on_hand change writes one in the same transaction."""

    location_id: UUID
    meal_id: UUID
    delta: int
    reason: LedgerReason
    actor: str
    note: str | None = None
    order_id: UUID | None = None


@dataclass(frozen=True)
class Posted:
    """What the store returns for an appended ledger entry."""

    id: int
    created_at: datetime


@dataclass(frozen=True)
class Adjustment:
    """What the store's one-step adjustment found and did: the statuses of the location and the meal it held (None:
    no such row) and, when both exist and the row could take the delta, the changed stock and its ledger entry. The
    statuses are checked afterwards (``check_stock_references``); a refusal rolls the change back."""

    location_status: LocationStatus | None
    meal_status: MealStatus | None
    change: tuple[Stock, Posted] | None


def delta_sign_rule(reason: AdjustmentReason, delta: int) -> str | None:
    """Returns the broken rule, if any, for a delta posted with this reason."""
    if delta == 0:
        return "delta must not be zero"
    if reason in INCREASING_REASONS and delta < 0:
        return f"reason '{reason}' needs a positive delta"
    if reason in DECREASING_REASONS and delta > 0:
        return f"reason '{reason}' needs a negative delta"
    return None


def check_delta(reason: AdjustmentReason, delta: int) -> None:
    if (broken := delta_sign_rule(reason, delta)) is not None:
        raise InvalidInput(broken, field="delta", rule=broken)


def retired_meal() -> Conflict:
    return Conflict("a retired meal cannot be stocked", field="meal_id", rule="meal must not be retired")


def check_stock_references(
    location: LocationStatus | None, meal: MealStatus | None, location_id: UUID, meal_id: UUID, stocking: bool
) -> MealStatus:
    """Both references exist (their statuses are given, None for a missing one), the location still takes stock,
    and (when ``stocking``) the meal is not retired. Returns the meal's status."""
    if location is None:
        raise ReferenceNotFound(
            f"location {location_id} does not exist", field="location_id", rule="must reference an existing location"
        )
    if meal is None:
        raise ReferenceNotFound(
            f"meal {meal_id} does not exist", field="meal_id", rule="must reference an existing meal"
        )
    if is_retired(location):
        raise Conflict(
            f"location is {location}; its stock can no longer change",
            field="location_id",
            rule="location must not be decommissioned or closed",
        )
    if stocking and meal == MealStatus.RETIRED:
        raise retired_meal()
    return meal


def refused_adjustment(stock: Stock | None, delta: int) -> InsufficientStock:
    """The answer when the guarded on_hand change found ``stock`` (None: no row yet, nothing on hand) unable to take
    ``delta``."""
    on_hand, reserved = (stock.on_hand, stock.reserved) if stock is not None else (0, 0)
    return InsufficientStock(
        f"on_hand {on_hand} (reserved {reserved}) cannot change by {delta}",
        field="delta",
        rule="stock must stay at or above the reserved quantity and never below zero",
        extra={"on_hand": on_hand, "reserved": reserved},
    )


def count(stock: Stock, counted: int, meal: MealStatus) -> int:
    """The ledger delta of an inspection that counted ``counted`` units; refuses a count below the
    reservations, and more units of a retired meal than there were (fewer is fine)."""
    if counted < stock.reserved:
        raise InsufficientStock(
            f"counted {counted} but {stock.reserved} are reserved for orders; cancel them first",
            field="counted",
            rule="a count cannot be below the reserved quantity",
            extra={"on_hand": stock.on_hand, "reserved": stock.reserved},
        )
    delta = counted - stock.on_hand
    if delta > 0 and meal == MealStatus.RETIRED:
        raise retired_meal()
    return delta
