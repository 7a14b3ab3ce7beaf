"""Catalog context: a meal's details and its lifecycle (draft -> active -> retired)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from farmacy.errors import Conflict
from farmacy.vocabulary import MealStatus
from writemodel.domain.rules import check_transition

MEAL_TRANSITIONS: dict[MealStatus, frozenset[MealStatus]] = {
    MealStatus.DRAFT: frozenset({MealStatus.ACTIVE, MealStatus.RETIRED}),
    MealStatus.ACTIVE: frozenset({MealStatus.RETIRED}),
    MealStatus.RETIRED: frozenset(),
}


@dataclass(frozen=True)
class NewMeal:
    """A meal about to be created (as a draft); the store assigns id, version and timestamps."""

    name: str
    description: str
    ingredients: list[str]
    allergens: list[str]
    dietary_tags: list[str]
    calories: int
    protein_g: int
    carbs_g: int
    fat_g: int
    price_cents: int
    spice_level: int | None = None


@dataclass(frozen=True)
class Meal:
    id: UUID
    name: str
    description: str
    ingredients: list[str]
    allergens: list[str]
    dietary_tags: list[str]
    calories: int
    protein_g: int
    carbs_g: int
    fat_g: int
    price_cents: int
    status: MealStatus
    version: int
    created_at: datetime
    updated_at: datetime
    spice_level: int | None = None


@dataclass(frozen=True)
class MealPatch:
    """Details an edit changes; a field left None keeps its value."""

    name: str | None = None
    description: str | None = None
    ingredients: list[str] | None = None
    allergens: list[str] | None = None
    dietary_tags: list[str] | None = None
    calories: int | None = None
    protein_g: int | None = None
    carbs_g: int | None = None
    fat_g: int | None = None
    price_cents: int | None = None
    spice_level: int | None = None

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def labels(values: list[str]) -> list[str]:
    """Allergens and dietary tags are sets: stored once each, sorted."""
    return sorted(set(values))


def new_meal(meal: NewMeal) -> NewMeal:
    return replace(meal, allergens=labels(meal.allergens), dietary_tags=labels(meal.dietary_tags))


def edit(meal: Meal, patch: MealPatch) -> Meal | None:
    """The meal with the patch applied; None when the patch changes nothing. A retired meal is frozen."""
    if meal.status == MealStatus.RETIRED:
        raise Conflict("a retired meal cannot be edited", rule="meal must not be retired")
    values = patch.values()
    if not values:
        return None
    for listed in ("allergens", "dietary_tags"):
        if listed in values:
            values[listed] = labels(values[listed])
    return replace(meal, **values)


def change_status(meal: Meal, target: MealStatus) -> Meal:
    """Publish (-> active) or retire (-> retired) along MEAL_TRANSITIONS."""
    check_transition("meal", meal.status, target, MEAL_TRANSITIONS)
    return replace(meal, status=target)
