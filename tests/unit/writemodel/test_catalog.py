"""Catalog rules: meal creation, edits, the draft -> active -> retired lifecycle and versions."""

from __future__ import annotations

import itertools
import uuid

import pytest

from farmacy.errors import Conflict, InvalidTransition, NotFound, VersionMismatch
from farmacy.vocabulary import MealStatus
from tests.unit.writemodel.fakes import FakeUnitOfWork, run
from tests.unit.writemodel.rules import refused
from writemodel.commands import ChangeMealStatus, CreateMeal, MealPatch, UpdateMeal
from writemodel.domain.catalog import MEAL_TRANSITIONS
from writemodel.handlers import catalog


def test_create_meal_is_a_draft_at_version_1_with_allergens_and_tags_sorted_once() -> None:
    uow = FakeUnitOfWork()
    cmd = CreateMeal("Bowl", "", ["kale"], ["sesame", "milk", "sesame"], ["vegan", "vegan"], 500, 1, 2, 3, 1195)
    meal = run(catalog.create_meal(cmd, uow))
    assert (meal.status, meal.version) == (MealStatus.DRAFT, 1)
    assert meal.allergens == ["milk", "sesame"] and meal.dietary_tags == ["vegan"]
    assert uow.store.meals[meal.id] == meal and uow.commits == 1 and uow.commit_lsn is not None


def test_update_meal_applies_the_patch_and_bumps_the_version() -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal(MealStatus.DRAFT, price_cents=900)
    patch = MealPatch(name="Renamed", price_cents=1000, allergens=["soy", "milk", "soy"])
    updated = run(catalog.update_meal(UpdateMeal(meal.id, 1, patch), uow))
    assert (updated.name, updated.price_cents, updated.allergens, updated.version) == (
        "Renamed",
        1000,
        ["milk", "soy"],
        2,
    )
    assert updated.calories == meal.calories  # fields left out keep their value


def test_update_meal_with_an_empty_patch_returns_it_unchanged() -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal()
    assert run(catalog.update_meal(UpdateMeal(meal.id, 1, MealPatch()), uow)) == meal
    assert uow.store.meals[meal.id].version == 1


def test_update_meal_with_a_stale_version_is_version_mismatch_and_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal()
    cmd = UpdateMeal(meal.id, 7, MealPatch(price_cents=1))
    error = refused(VersionMismatch, lambda: catalog.update_meal(cmd, uow), "If-Match", "must match", uow)
    assert error.extra == {"current_version": 1}


def test_update_of_an_unknown_meal_is_not_found() -> None:
    uow = FakeUnitOfWork()
    refused(NotFound, lambda: catalog.update_meal(UpdateMeal(uuid.uuid4(), 1, MealPatch(name="x")), uow), None)


def test_editing_a_retired_meal_is_conflict_blaming_no_field() -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal(MealStatus.RETIRED)
    cmd = UpdateMeal(meal.id, 1, MealPatch(price_cents=1))
    refused(Conflict, lambda: catalog.update_meal(cmd, uow), None, "meal must not be retired", uow)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(MealStatus, MealStatus)))
def test_meal_status_changes_follow_draft_active_retired(current: MealStatus, target: MealStatus) -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal(current)
    cmd = ChangeMealStatus(meal.id, target)
    if target in MEAL_TRANSITIONS[current]:
        moved = run(catalog.change_meal_status(cmd, uow))
        assert (moved.status, moved.version) == (target, 2)
    else:
        rule = "valid meal status transition"
        refused(InvalidTransition, lambda: catalog.change_meal_status(cmd, uow), "status", rule, uow)


def test_only_draft_to_active_publishes_and_retired_is_final() -> None:
    assert MEAL_TRANSITIONS[MealStatus.DRAFT] == {MealStatus.ACTIVE, MealStatus.RETIRED}
    assert MEAL_TRANSITIONS[MealStatus.ACTIVE] == {MealStatus.RETIRED}
    assert MEAL_TRANSITIONS[MealStatus.RETIRED] == frozenset()


def test_publishing_with_a_stale_version_is_version_mismatch() -> None:
    uow = FakeUnitOfWork()
    meal = uow.store.meal(MealStatus.DRAFT)
    cmd = ChangeMealStatus(meal.id, MealStatus.ACTIVE, expected_version=2)
    refused(VersionMismatch, lambda: catalog.change_meal_status(cmd, uow), "If-Match", uow=uow)
