from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from psycopg.rows import DictRow

from farmacy.vocabulary import MealStatus
from writemodel.adapters.postgres.sql import LOCK_CLAUSE, Conn, fetch_later, fetch_row
from writemodel.domain.catalog import Meal, NewMeal
from writemodel.repositories import Later, Lock

COLUMNS = (
    "id, name, description, ingredients, allergens, dietary_tags, calories, protein_g, carbs_g, fat_g, "
    "price_cents, spice_level, status, version, created_at, updated_at"
)


def meal(row: DictRow) -> Meal:
    return Meal(**{**row, "status": MealStatus(row["status"])})


class PgMeals:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    async def add(self, new: NewMeal) -> Meal:
        row = await fetch_row(
            self.conn,
            f"""INSERT INTO catalog.meals (name, description, ingredients, allergens, dietary_tags,
                    calories, protein_g, carbs_g, fat_g, price_cents, spice_level)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
            [
                new.name,
                new.description,
                new.ingredients,
                new.allergens,
                new.dietary_tags,
                new.calories,
                new.protein_g,
                new.carbs_g,
                new.fat_g,
                new.price_cents,
                new.spice_level,
            ],
        )
        return meal(row)

    async def get(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Meal | None:
        return await (await self.get_later(meal_id, lock))()

    async def get_later(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Later[Meal | None]:
        row = await fetch_later(
            self.conn, f"SELECT {COLUMNS} FROM catalog.meals WHERE id = %s{LOCK_CLAUSE[lock]}", [meal_id]
        )

        async def result() -> Meal | None:
            found = await row()
            return meal(found) if found else None

        return result

    async def get_many(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> dict[UUID, Meal]:
        return await (await self.get_many_later(meal_ids, lock))()

    async def get_many_later(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> Later[dict[UUID, Meal]]:
        cur = await self.conn.execute(
            f"SELECT {COLUMNS} FROM catalog.meals WHERE id = ANY(%s){LOCK_CLAUSE[lock]}", [list(meal_ids)]
        )

        async def result() -> dict[UUID, Meal]:
            return {row["id"]: meal(row) for row in await cur.fetchall()}

        return result

    async def save(self, m: Meal) -> Meal:
        row = await fetch_row(
            self.conn,
            f"""UPDATE catalog.meals
                   SET name = %s, description = %s, ingredients = %s, allergens = %s, dietary_tags = %s,
                       calories = %s, protein_g = %s, carbs_g = %s, fat_g = %s, price_cents = %s, spice_level = %s,
                       status = %s,
                       version = version + 1, updated_at = now()
                 WHERE id = %s RETURNING {COLUMNS}""",
            [
                m.name,
                m.description,
                m.ingredients,
                m.allergens,
                m.dietary_tags,
                m.calories,
                m.protein_g,
                m.carbs_g,
                m.fat_g,
                m.price_cents,
                m.spice_level,
                m.status.value,
                m.id,
            ],
        )
        return meal(row)
