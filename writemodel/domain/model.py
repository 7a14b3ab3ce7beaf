"""Vocabularies and state rules of the write model (ARCHITECTURE §2)."""

from __future__ import annotations

from farmacy.vocabulary import (
    AdjustmentReason,
    LocationKind,
    MealStatus,
    OrderStatus,
    SubscriptionStatus,
)

FRIDGE_TRANSITIONS: dict[str, frozenset[str]] = {
    "installed_off": frozenset({"online", "decommissioned"}),
    "online": frozenset({"offline", "out_of_order", "maintenance", "decommissioned"}),
    "offline": frozenset({"online", "out_of_order", "maintenance", "decommissioned"}),
    "out_of_order": frozenset({"maintenance", "online", "decommissioned"}),
    "maintenance": frozenset({"online", "offline", "decommissioned"}),
    "decommissioned": frozenset(),
}
STOREFRONT_TRANSITIONS: dict[str, frozenset[str]] = {  # kiosks and restaurants
    "open": frozenset({"closed_temporarily", "closed"}),
    "closed_temporarily": frozenset({"open", "closed"}),
    "closed": frozenset(),
}
INITIAL_STATUS = {
    LocationKind.SMART_FRIDGE: "installed_off",
    LocationKind.KIOSK: "open",
    LocationKind.RESTAURANT: "open",
}
OPERATIONAL_STATUSES = frozenset({"online", "open"})
RETIRED_LOCATION_STATUSES = frozenset({"decommissioned", "closed"})


def transitions_for(kind: str) -> dict[str, frozenset[str]]:
    return FRIDGE_TRANSITIONS if kind == LocationKind.SMART_FRIDGE else STOREFRONT_TRANSITIONS


def statuses_for(kind: str) -> frozenset[str]:
    return frozenset(transitions_for(kind))


def is_operational(status: str) -> bool:
    return status in OPERATIONAL_STATUSES


INCREASING_REASONS = frozenset({AdjustmentReason.REPLENISH})
DECREASING_REASONS = frozenset({AdjustmentReason.REMOVE, AdjustmentReason.EXPIRED, AdjustmentReason.DAMAGED})


def delta_sign_rule(reason: AdjustmentReason, delta: int) -> str | None:
    """Returns the broken rule, if any, for a delta posted with this reason."""
    if delta == 0:
        return "delta must not be zero"
    if reason in INCREASING_REASONS and delta < 0:
        return f"reason '{reason}' needs a positive delta"
    if reason in DECREASING_REASONS and delta > 0:
        return f"reason '{reason}' needs a negative delta"
    return None


MEAL_TRANSITIONS: dict[str, frozenset[str]] = {
    MealStatus.DRAFT: frozenset({MealStatus.ACTIVE, MealStatus.RETIRED}),
    MealStatus.ACTIVE: frozenset({MealStatus.RETIRED}),
    MealStatus.RETIRED: frozenset(),
}


ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.READY, OrderStatus.CANCELLED}),
    OrderStatus.READY: frozenset({OrderStatus.PICKED_UP, OrderStatus.CANCELLED}),
    OrderStatus.PICKED_UP: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}
# An order's pick-up window: at most this long, starting at most this far ahead.
MAX_PICKUP_WINDOW_HOURS = 12
MAX_PICKUP_DAYS_AHEAD = 14
MAX_ORDER_LINES = 20


SUBSCRIPTION_TRANSITIONS: dict[str, frozenset[str]] = {
    SubscriptionStatus.ACTIVE: frozenset({SubscriptionStatus.PAUSED, SubscriptionStatus.CANCELLED}),
    SubscriptionStatus.PAUSED: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELLED}),
    SubscriptionStatus.CANCELLED: frozenset(),
}


def transition_error(kind: str, current: str, target: str, table: dict[str, frozenset[str]]) -> str | None:
    """Returns why ``current -> target`` is not allowed, or None when it is."""
    allowed = table.get(current, frozenset())
    if target in allowed:
        return None
    options = ", ".join(sorted(allowed)) or "none (final state)"
    return f"a {kind} cannot go from '{current}' to '{target}'; allowed from '{current}': {options}"
