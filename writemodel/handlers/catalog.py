"""Catalog context: meals and their lifecycle (draft -> active -> retired)."""

from __future__ import annotations

from typing import Any

from farmacy.errors import Conflict, InvalidTransition
from farmacy.vocabulary import MealStatus
from writemodel.commands import ChangeMealStatus, CreateMeal, UpdateMeal
from writemodel.domain.model import MEAL_TRANSITIONS, transition_error
from writemodel.handlers.versioned import load_for_update, update_row
from writemodel.uow import UnitOfWork

MEAL_COLUMNS = (
    "id, name, description, ingredients, allergens, dietary_tags, calories, protein_g, carbs_g, fat_g, "
    "price_cents, status, version, created_at, updated_at"
)


async def create_meal(cmd: CreateMeal, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        cur = await conn.execute(
            f"""INSERT INTO catalog.meals (name, description, ingredients, allergens, dietary_tags,
                    calories, protein_g, carbs_g, fat_g, price_cents)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {MEAL_COLUMNS}""",
            [
                cmd.name,
                cmd.description,
                cmd.ingredients,
                sorted(set(cmd.allergens)),
                sorted(set(cmd.dietary_tags)),
                cmd.calories,
                cmd.protein_g,
                cmd.carbs_g,
                cmd.fat_g,
                cmd.price_cents,
            ],
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)


async def update_meal(cmd: UpdateMeal, uow: UnitOfWork) -> dict[str, Any]:
    changes = dict(cmd.changes)
    for listed in ("allergens", "dietary_tags"):
        if listed in changes:
            changes[listed] = sorted(set(changes[listed]))  # type: ignore[call-overload]
    async with uow.transaction() as conn:
        meal = await load_for_update(conn, "catalog.meals", cmd.meal_id, cmd.expected_version, "meal")
        if meal["status"] == MealStatus.RETIRED:
            raise Conflict("a retired meal cannot be edited", rule="meal must not be retired")
        if not changes:
            return meal
        return await update_row(conn, "catalog.meals", cmd.meal_id, changes, MEAL_COLUMNS)


async def change_meal_status(cmd: ChangeMealStatus, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        meal = await load_for_update(conn, "catalog.meals", cmd.meal_id, cmd.expected_version, "meal")
        if (why := transition_error("meal", meal["status"], cmd.target, MEAL_TRANSITIONS)) is not None:
            raise InvalidTransition(why, field="status", rule="valid meal status transition")
        return await update_row(conn, "catalog.meals", cmd.meal_id, {"status": cmd.target}, MEAL_COLUMNS)
