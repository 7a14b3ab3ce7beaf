"""Inventory context: stock changes. Every on_hand change appends to the ledger in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from farmacy.vocabulary import LedgerReason, MealStatus
from writemodel.commands import AdjustStock, CountStock
from writemodel.domain import inventory
from writemodel.domain.inventory import LedgerEntry, StockKey
from writemodel.repositories import Lock
from writemodel.uow import UnitOfWork


@dataclass(frozen=True)
class Adjusted:
    adjustment_id: int
    created_at: datetime
    delta: int
    reason: str
    location_id: UUID
    meal_id: UUID
    on_hand: int
    reserved: int
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class Counted:
    adjustment_id: int | None
    delta: int
    location_id: UUID
    meal_id: UUID
    on_hand: int
    reserved: int
    version: int
    updated_at: datetime


async def _references(uow: UnitOfWork, key: StockKey) -> MealStatus:
    """Holds location and meal (FOR SHARE) while the stock changes; see inventory.check_stock_references."""
    location = await uow.locations.get_later(key.location_id, Lock.SHARE)
    meal = await uow.meals.get_later(key.meal_id, Lock.SHARE)  # both reads go out together
    found_location, found_meal = await location(), await meal()
    return inventory.check_stock_references(
        found_location.status if found_location else None,
        found_meal.status if found_meal else None,
        key.location_id,
        key.meal_id,
        stocking=False,
    )


async def adjust_stock(cmd: AdjustStock, uow: UnitOfWork) -> Adjusted:
    inventory.check_delta(cmd.reason, cmd.delta)
    key = StockKey(cmd.location_id, cmd.meal_id)
    reason = LedgerReason(cmd.reason.value)
    entry = LedgerEntry(key.location_id, key.meal_id, cmd.delta, reason, cmd.actor.subject, cmd.note)
    async with uow:
        # One step holds the references, changes the row and appends the ledger; the references' rules are checked
        # on what it found, and a refusal rolls the change back with the transaction.
        done = await uow.stock.adjust(key, cmd.delta, entry)
        inventory.check_stock_references(
            done.location_status, done.meal_status, key.location_id, key.meal_id, stocking=cmd.delta > 0
        )
        if done.change is None:
            raise inventory.refused_adjustment(await uow.stock.get(key), cmd.delta)
        stock, posted = done.change
    return Adjusted(
        posted.id,
        posted.created_at,
        cmd.delta,
        reason.value,
        stock.location_id,
        stock.meal_id,
        stock.on_hand,
        stock.reserved,
        stock.version,
        stock.updated_at,
    )


async def count_stock(cmd: CountStock, uow: UnitOfWork) -> Counted:
    key = StockKey(cmd.location_id, cmd.meal_id)
    async with uow:
        meal = await _references(uow, key)
        await uow.stock.ensure(key)
        stock = await uow.stock.get(key, Lock.UPDATE)
        assert stock is not None
        delta = inventory.count(stock, cmd.counted, meal)
        adjustment_id = None
        if delta != 0:
            stock = await uow.stock.set_on_hand(key, cmd.counted)
            entry = LedgerEntry(key.location_id, key.meal_id, delta, LedgerReason.COUNT, cmd.actor.subject, cmd.note)
            adjustment_id = (await uow.stock.post(entry)).id
    return Counted(
        adjustment_id,
        delta,
        stock.location_id,
        stock.meal_id,
        stock.on_hand,
        stock.reserved,
        stock.version,
        stock.updated_at,
    )
