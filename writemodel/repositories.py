"""Ports of the write model: the repositories a unit of work hands to handlers, one per aggregate.

Reads take a ``Lock``: SHARE holds a referenced row still while the command relies on it (a concurrent
status change waits for this transaction, and this one sees the final status); UPDATE locks a row the
command is about to change. The guarded stock changes apply their condition and their change in one step,
so no concurrent command can slip in between (see ``Stock.can_change_on_hand`` / ``can_reserve``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Protocol, TypeVar
from uuid import UUID

from writemodel.domain.catalog import Meal, NewMeal
from writemodel.domain.inventory import Adjustment, LedgerEntry, Posted, Stock, StockKey
from writemodel.domain.locations import Location, NewLocation
from writemodel.domain.ordering import Customer, NewOrder, Order
from writemodel.domain.subscriptions import NewPlan, NewSubscription, Plan, Subscription

T = TypeVar("T")
Later = Callable[[], Awaitable[T]]
"""A read already sent: awaiting it gives its result. Reads sent one after the other and awaited afterwards share
one round trip to the master (the command runs in pipeline mode)."""


class Lock(Enum):
    NONE = "none"
    SHARE = "share"
    UPDATE = "update"


class DuplicateKey(Exception):
    """A unique key (location or plan code, customer email) is taken; the transaction is void."""


class Meals(Protocol):
    async def add(self, meal: NewMeal) -> Meal: ...
    async def get(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Meal | None: ...
    async def get_many(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> dict[UUID, Meal]: ...
    async def get_later(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Later[Meal | None]: ...
    async def get_many_later(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> Later[dict[UUID, Meal]]: ...
    async def save(self, meal: Meal) -> Meal:
        """Writes the meal's details and status, bumps its version; returns it as stored."""
        ...


class Locations(Protocol):
    async def add(self, location: NewLocation) -> Location:
        """Raises DuplicateKey when the code is taken."""
        ...

    async def get(self, location_id: UUID, lock: Lock = Lock.NONE) -> Location | None: ...
    async def get_later(self, location_id: UUID, lock: Lock = Lock.NONE) -> Later[Location | None]: ...
    async def save(self, location: Location) -> Location: ...


class StockLevels(Protocol):
    async def ensure(self, key: StockKey) -> None:
        """Creates the (location, meal) row with nothing on hand unless it exists."""
        ...

    async def get(self, key: StockKey, lock: Lock = Lock.NONE) -> Stock | None: ...

    async def set_on_hand(self, key: StockKey, on_hand: int) -> Stock:
        """Sets on_hand of a row locked FOR UPDATE."""
        ...

    async def reserve_all(self, wanted: Sequence[tuple[StockKey, int]]) -> list[bool]:
        """Reserves each (key, quantity) if ``can_reserve(quantity)`` (False, and no change, for one that cannot), in
        the order given (the order rows are locked in), sent together."""
        ...

    async def release(self, key: StockKey, quantity: int) -> None: ...

    async def consume(self, key: StockKey, quantity: int) -> None:
        """Takes ``quantity`` out of both reserved and on_hand (a pick-up)."""
        ...

    async def post(self, entry: LedgerEntry) -> Posted:
        """Appends to the ledger."""
        ...

    async def adjust(self, key: StockKey, delta: int, entry: LedgerEntry) -> Adjustment:
        """In one step: holds the key's location and meal (SHARE) and, if both exist, adds ``delta`` to on_hand if
        ``can_change_on_hand(delta)`` and ``post``s ``entry``, creating the row when a new pair is stocked (``delta``
        > 0). Returns the two statuses (None for a missing reference) and the change (None: nothing changed). The
        caller checks the references' rules on the statuses and refuses, rolling the change back, when they break."""
        ...


class Customers(Protocol):
    async def add(self, email: str, name: str) -> Customer:
        """Raises DuplicateKey when the email (in any letter case) is registered."""
        ...

    async def get(self, customer_id: UUID) -> Customer | None: ...


class Orders(Protocol):
    async def add_later(self, order: NewOrder) -> Later[Order]:
        """Sends the order and its lines; awaiting the result gives the order as stored."""
        ...

    async def get(self, order_id: UUID, lock: Lock = Lock.NONE) -> Order | None: ...
    async def save(self, order: Order) -> Order:
        """Writes the order's status, bumps its version."""
        ...


class Plans(Protocol):
    async def add(self, plan: NewPlan) -> Plan:
        """Raises DuplicateKey when the code is taken."""
        ...

    async def get(self, plan_id: UUID, lock: Lock = Lock.NONE) -> Plan | None: ...
    async def save(self, plan: Plan) -> Plan: ...


class Subscriptions(Protocol):
    async def add(self, subscription: NewSubscription) -> Subscription: ...
    async def get(self, subscription_id: UUID, lock: Lock = Lock.NONE) -> Subscription | None: ...
    async def save(self, subscription: Subscription) -> Subscription: ...
