"""The write model's state tables hold together (the rules using them are tested in tests/unit/writemodel)."""

from __future__ import annotations

import pytest

from farmacy.vocabulary import AdjustmentReason, LocationKind, LocationStatus, MealStatus, OrderStatus
from writemodel.domain.catalog import MEAL_TRANSITIONS
from writemodel.domain.inventory import delta_sign_rule
from writemodel.domain.locations import FRIDGE_TRANSITIONS, STOREFRONT_TRANSITIONS, is_operational, statuses_for
from writemodel.domain.ordering import ORDER_TRANSITIONS
from writemodel.domain.subscriptions import SUBSCRIPTION_TRANSITIONS


def test_only_online_and_open_locations_are_operational() -> None:
    assert {s for s in LocationStatus if is_operational(s)} == {"online", "open"}


def test_every_location_status_belongs_to_exactly_one_state_machine() -> None:
    assert set(FRIDGE_TRANSITIONS) | set(STOREFRONT_TRANSITIONS) == set(LocationStatus)
    assert not set(FRIDGE_TRANSITIONS) & set(STOREFRONT_TRANSITIONS)


@pytest.mark.parametrize(
    ("table", "statuses"),
    [
        (FRIDGE_TRANSITIONS, set(FRIDGE_TRANSITIONS)),
        (STOREFRONT_TRANSITIONS, set(STOREFRONT_TRANSITIONS)),
        (MEAL_TRANSITIONS, set(MealStatus)),
        (ORDER_TRANSITIONS, set(OrderStatus)),
        (SUBSCRIPTION_TRANSITIONS, set(SUBSCRIPTION_TRANSITIONS)),
    ],
)
def test_transitions_stay_within_the_tables_statuses(table: dict[str, frozenset[str]], statuses: set[str]) -> None:
    assert set(table) == statuses
    for targets in table.values():
        assert targets <= statuses


def test_decommissioned_and_closed_are_final() -> None:
    assert FRIDGE_TRANSITIONS[LocationStatus.DECOMMISSIONED] == frozenset()
    assert STOREFRONT_TRANSITIONS[LocationStatus.CLOSED] == frozenset()


def test_statuses_differ_by_kind() -> None:
    assert "online" in statuses_for(LocationKind.SMART_FRIDGE) and "online" not in statuses_for(LocationKind.KIOSK)


@pytest.mark.parametrize(
    ("reason", "delta", "broken"),
    [
        (AdjustmentReason.REPLENISH, 5, False),
        (AdjustmentReason.REPLENISH, -5, True),
        (AdjustmentReason.EXPIRED, -1, False),
        (AdjustmentReason.DAMAGED, 2, True),
        (AdjustmentReason.CORRECTION, -3, False),
        (AdjustmentReason.CORRECTION, 3, False),
        (AdjustmentReason.CORRECTION, 0, True),
    ],
)
def test_delta_sign_must_fit_the_reason(reason: AdjustmentReason, delta: int, broken: bool) -> None:
    assert (delta_sign_rule(reason, delta) is not None) is broken
