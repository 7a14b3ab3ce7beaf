"""Catalog context: meals."""

from __future__ import annotations

from typing import Any

from farmacy.commands import CreateMeal
from farmacy.uow import UnitOfWork

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
            [cmd.name, cmd.description, cmd.ingredients, sorted(set(cmd.allergens)), sorted(set(cmd.dietary_tags)),
             cmd.calories, cmd.protein_g, cmd.carbs_g, cmd.fat_g, cmd.price_cents],
        )
        row = await cur.fetchone()
    assert row is not None
    return dict(row)
