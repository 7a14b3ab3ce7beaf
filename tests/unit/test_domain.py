from __future__ import annotations

import pytest

from farmacy.vocabulary import AdjustmentReason
from writemodel.domain.model import (
    FRIDGE_TRANSITIONS,
    STOREFRONT_TRANSITIONS,
    delta_sign_rule,
    is_operational,
    statuses_for,
)


def test_only_online_and_open_locations_are_operational() -> None:
    every = set(FRIDGE_TRANSITIONS) | set(STOREFRONT_TRANSITIONS)
    assert {s for s in every if is_operational(s)} == {"online", "open"}


def test_transitions_stay_within_each_kinds_statuses() -> None:
    for table in (FRIDGE_TRANSITIONS, STOREFRONT_TRANSITIONS):
        for targets in table.values():
            assert targets <= set(table)


def test_decommissioned_and_closed_are_final() -> None:
    assert FRIDGE_TRANSITIONS["decommissioned"] == frozenset()
    assert STOREFRONT_TRANSITIONS["closed"] == frozenset()


def test_statuses_differ_by_kind() -> None:
    assert "online" in statuses_for("smart_fridge") and "online" not in statuses_for("kiosk")


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
