"""Ordering context: customers and orders. Placing reserves stock atomically; cancelling releases it;
pick-up consumes it (and writes 'sale' entries to the ledger)."""

from __future__ import annotations

from datetime import UTC, datetime

from farmacy.vocabulary import LedgerReason
from writemodel.commands import ChangeOrderStatus, PlaceOrder, RegisterCustomer
from writemodel.domain import ordering
from writemodel.domain.inventory import LedgerEntry, StockKey
from writemodel.domain.ordering import Customer, Order, ShortLine, StockEffect
from writemodel.domain.rules import loaded_for
from writemodel.repositories import DuplicateKey, Lock
from writemodel.uow import UnitOfWork


async def register_customer(cmd: RegisterCustomer, uow: UnitOfWork) -> Customer:
    try:
        async with uow:
            return await uow.customers.add(cmd.email, cmd.name)
    except DuplicateKey as exc:
        raise ordering.duplicate_email() from exc


async def place_order(cmd: PlaceOrder, uow: UnitOfWork) -> Order:
    ordering.check_pickup_window(cmd.pickup_from, cmd.pickup_until, datetime.now(UTC))
    async with uow:
        # FOR SHARE: a concurrent status change waits for this order, and this order sees the final status.
        location = await uow.locations.get_later(cmd.location_id, Lock.SHARE)
        meals_later = await uow.meals.get_many_later([line.meal_id for line in cmd.lines], Lock.SHARE)
        ordering.check_customer(await uow.customers.get(cmd.customer_id), cmd.customer_id)  # all three reads at once
        ordering.check_takes_orders(await location(), cmd.location_id)
        meals = await meals_later()
        ordering.check_meals_for_sale(cmd.lines, meals)
        # The order goes in before its stock is reserved: the stock rows' locks are then held for the reservation
        # and the commit only. Both go out together (the order's row is read after the reservations'). A short line
        # rolls the whole transaction back, the order with it.
        new = ordering.new_order(cmd.customer_id, cmd.location_id, cmd.pickup_from, cmd.pickup_until, cmd.lines, meals)
        placed = await uow.orders.add_later(new)
        short = []
        order = ordering.reservation_order(cmd.lines)
        wanted = [(StockKey(cmd.location_id, cmd.lines[i].meal_id), cmd.lines[i].quantity) for i in order]
        for i, (key, quantity), reserved in zip(order, wanted, await uow.stock.reserve_all(wanted), strict=True):
            if not reserved:
                stock = await uow.stock.get(key)
                short.append(ShortLine(i, key.meal_id, quantity, stock.available if stock else 0))
        ordering.check_short_lines(short)
        return await placed()


async def change_order_status(cmd: ChangeOrderStatus, uow: UnitOfWork) -> Order:
    async with uow:
        found = await uow.orders.get(cmd.order_id, Lock.UPDATE)
        order = loaded_for(found, "order", cmd.order_id, cmd.expected_version, cmd.actor.customer_scope)
        moved, effect = ordering.change_status(order, cmd.target)
        for line in ordering.lines_in_lock_order(order):
            key = StockKey(order.location_id, line.meal_id)
            if effect is StockEffect.RELEASE:
                await uow.stock.release(key, line.quantity)
            elif effect is StockEffect.CONSUME:
                await uow.stock.consume(key, line.quantity)
                sale = LedgerEntry(
                    key.location_id, key.meal_id, -line.quantity, LedgerReason.SALE, cmd.actor.subject, None, order.id
                )
                await uow.stock.post(sale)
        return await uow.orders.save(moved)
