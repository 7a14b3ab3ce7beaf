"""Catalog context: meals and their lifecycle (draft -> active -> retired)."""

from __future__ import annotations

from writemodel.commands import ChangeMealStatus, CreateMeal, UpdateMeal
from writemodel.domain import catalog
from writemodel.domain.catalog import Meal, NewMeal
from writemodel.domain.rules import loaded
from writemodel.repositories import Lock
from writemodel.uow import UnitOfWork


async def create_meal(cmd: CreateMeal, uow: UnitOfWork) -> Meal:
    new = catalog.new_meal(
        NewMeal(
            cmd.name,
            cmd.description,
            cmd.ingredients,
            cmd.allergens,
            cmd.dietary_tags,
            cmd.calories,
            cmd.protein_g,
            cmd.carbs_g,
            cmd.fat_g,
            cmd.price_cents,
            cmd.spice_level,
        )
    )
    async with uow:
        return await uow.meals.add(new)


async def update_meal(cmd: UpdateMeal, uow: UnitOfWork) -> Meal:
    async with uow:
        meal = loaded(await uow.meals.get(cmd.meal_id, Lock.UPDATE), "meal", cmd.meal_id, cmd.expected_version)
        edited = catalog.edit(meal, cmd.patch)
        return meal if edited is None else await uow.meals.save(edited)


async def change_meal_status(cmd: ChangeMealStatus, uow: UnitOfWork) -> Meal:
    async with uow:
        meal = loaded(await uow.meals.get(cmd.meal_id, Lock.UPDATE), "meal", cmd.meal_id, cmd.expected_version)
        return await uow.meals.save(catalog.change_status(meal, cmd.target))
