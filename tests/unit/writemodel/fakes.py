"""An in-memory unit of work for the write model's unit tests: the same ports as PostgreSQL, no database.

Each ``async with uow:`` works on the store and puts back the snapshot taken at its start when the block
raises, so a refused command visibly changes nothing. Unique keys and the guarded stock changes behave as
their PostgreSQL counterparts (the guards are the domain's own predicates)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from uuid import UUID

from farmacy.vocabulary import (
    LocationKind,
    LocationStatus,
    MealStatus,
    OrderStatus,
    PlanStatus,
    SubscriptionStatus,
)
from writemodel.domain.catalog import Meal, NewMeal
from writemodel.domain.inventory import Adjustment, LedgerEntry, Posted, Stock, StockKey
from writemodel.domain.locations import Location, NewLocation
from writemodel.domain.ordering import Customer, NewOrder, Order, PricedLine
from writemodel.domain.subscriptions import NewPlan, NewSubscription, Plan, Subscription
from writemodel.repositories import DuplicateKey, Later, Lock
from writemodel.uow import UnitOfWork

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Store:
    """The fake database: one dict per table, the ledger as a list of (id, entry)."""

    meals: dict[UUID, Meal] = field(default_factory=dict)
    locations: dict[UUID, Location] = field(default_factory=dict)
    stock: dict[StockKey, Stock] = field(default_factory=dict)
    ledger: list[tuple[int, LedgerEntry]] = field(default_factory=list)
    customers: dict[UUID, Customer] = field(default_factory=dict)
    orders: dict[UUID, Order] = field(default_factory=dict)
    plans: dict[UUID, Plan] = field(default_factory=dict)
    subscriptions: dict[UUID, Subscription] = field(default_factory=dict)

    def copy(self) -> Store:
        return Store(
            dict(self.meals),
            dict(self.locations),
            dict(self.stock),
            list(self.ledger),
            dict(self.customers),
            dict(self.orders),
            dict(self.plans),
            dict(self.subscriptions),
        )

    def entries(self, key: StockKey) -> list[LedgerEntry]:
        return [e for _, e in self.ledger if StockKey(e.location_id, e.meal_id) == key]

    # --- seeding: rows as a test needs them, without going through commands ---------------------------

    def meal(self, status: MealStatus = MealStatus.ACTIVE, price_cents: int = 500) -> Meal:
        m = Meal(uuid.uuid4(), "Meal", "", [], [], [], 400, 0, 0, 0, price_cents, status, 1, now(), now())
        self.meals[m.id] = m
        return m

    def location(
        self, kind: LocationKind = LocationKind.SMART_FRIDGE, status: LocationStatus = LocationStatus.ONLINE
    ) -> Location:
        code = f"LOC-{uuid.uuid4().hex[:8].upper()}"
        loc = Location(uuid.uuid4(), code, "Location", kind, "", "Town", 1.0, 2.0, status, 1, now(), now())
        self.locations[loc.id] = loc
        return loc

    def stocked(self, location: Location, meal: Meal, on_hand: int, reserved: int = 0) -> StockKey:
        key = StockKey(location.id, meal.id)
        self.stock[key] = Stock(location.id, meal.id, on_hand, reserved, 1, now())
        return key

    def customer(self, email: str | None = None) -> Customer:
        c = Customer(uuid.uuid4(), email or f"{uuid.uuid4().hex[:8]}@example.com", "C", 1, now(), now())
        self.customers[c.id] = c
        return c

    def plan(self, status: PlanStatus = PlanStatus.ACTIVE) -> Plan:
        p = Plan(uuid.uuid4(), f"plan-{uuid.uuid4().hex[:6]}", "Plan", 5, 5000, status, 1, now(), now())
        self.plans[p.id] = p
        return p

    def subscription(
        self,
        customer: Customer,
        plan: Plan,
        location: Location,
        status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
        paused_until: date | None = None,
    ) -> Subscription:
        s = Subscription(uuid.uuid4(), customer.id, plan.id, location.id, status, paused_until, None, 1, now(), now())
        self.subscriptions[s.id] = s
        return s

    def order(
        self,
        customer: Customer,
        location: Location,
        lines: Sequence[tuple[Meal, int]],
        status: OrderStatus = OrderStatus.PLACED,
    ) -> Order:
        """An order whose quantities are reserved (placed/ready) as a real placement leaves them."""
        priced = tuple(PricedLine(n, m.id, q, m.price_cents) for n, (m, q) in enumerate(lines, start=1))
        total = sum(line.quantity * line.unit_price_cents for line in priced)
        start = now()
        o = Order(uuid.uuid4(), customer.id, location.id, start, start, status, total, 1, start, start, priced)
        self.orders[o.id] = o
        return o


def _bumped(entity: T) -> T:
    return replace(entity, version=entity.version + 1, updated_at=now())  # type: ignore[attr-defined,type-var]


class FakeMeals:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, new: NewMeal) -> Meal:
        m = Meal(
            uuid.uuid4(),
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
            MealStatus.DRAFT,
            1,
            now(),
            now(),
            new.spice_level,
        )
        self.store.meals[m.id] = m
        return m

    async def get(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Meal | None:
        return self.store.meals.get(meal_id)

    async def get_later(self, meal_id: UUID, lock: Lock = Lock.NONE) -> Later[Meal | None]:
        return _ready(await self.get(meal_id, lock))

    async def get_many_later(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> Later[dict[UUID, Meal]]:
        return _ready(await self.get_many(meal_ids, lock))

    async def get_many(self, meal_ids: Sequence[UUID], lock: Lock = Lock.NONE) -> dict[UUID, Meal]:
        return {i: self.store.meals[i] for i in meal_ids if i in self.store.meals}

    async def save(self, meal: Meal) -> Meal:
        saved = _bumped(meal)
        self.store.meals[meal.id] = saved
        return saved


class FakeLocations:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, new: NewLocation) -> Location:
        if any(loc.code == new.code for loc in self.store.locations.values()):
            raise DuplicateKey(new.code)
        loc = Location(
            uuid.uuid4(),
            new.code,
            new.name,
            new.kind,
            new.address,
            new.city,
            new.latitude,
            new.longitude,
            new.status,
            1,
            now(),
            now(),
        )
        self.store.locations[loc.id] = loc
        return loc

    async def get(self, location_id: UUID, lock: Lock = Lock.NONE) -> Location | None:
        return self.store.locations.get(location_id)

    async def get_later(self, location_id: UUID, lock: Lock = Lock.NONE) -> Later[Location | None]:
        return _ready(await self.get(location_id, lock))

    async def save(self, location: Location) -> Location:
        saved = _bumped(location)
        self.store.locations[location.id] = saved
        return saved


def _ready(value: T) -> Later[T]:
    """A Later whose result is already known."""

    async def result() -> T:
        return value

    return result


class FakeStockLevels:
    def __init__(self, store: Store) -> None:
        self.store = store

    def _set(self, stock: Stock, on_hand: int | None = None, reserved: int | None = None) -> Stock:
        on_hand = stock.on_hand if on_hand is None else on_hand
        reserved = stock.reserved if reserved is None else reserved
        changed = _bumped(replace(stock, on_hand=on_hand, reserved=reserved))
        assert 0 <= changed.reserved <= changed.on_hand, "the database's CHECK constraints would refuse this"
        self.store.stock[stock.key] = changed
        return changed

    async def ensure(self, key: StockKey) -> None:
        self.store.stock.setdefault(key, Stock(key.location_id, key.meal_id, 0, 0, 1, now()))

    async def get(self, key: StockKey, lock: Lock = Lock.NONE) -> Stock | None:
        return self.store.stock.get(key)

    async def set_on_hand(self, key: StockKey, on_hand: int) -> Stock:
        return self._set(self.store.stock[key], on_hand=on_hand)

    async def reserve_all(self, wanted: Sequence[tuple[StockKey, int]]) -> list[bool]:
        reserved = []
        for key, quantity in wanted:
            stock = self.store.stock.get(key)
            ok = stock is not None and stock.can_reserve(quantity)
            if stock is not None and ok:
                self._set(stock, reserved=stock.reserved + quantity)
            reserved.append(ok)
        return reserved

    async def release(self, key: StockKey, quantity: int) -> None:
        stock = self.store.stock[key]
        self._set(stock, reserved=stock.reserved - quantity)

    async def consume(self, key: StockKey, quantity: int) -> None:
        stock = self.store.stock[key]
        self._set(stock, reserved=stock.reserved - quantity, on_hand=stock.on_hand - quantity)

    async def adjust(self, key: StockKey, delta: int, entry: LedgerEntry) -> Adjustment:
        location, meal = self.store.locations.get(key.location_id), self.store.meals.get(key.meal_id)
        statuses = (location.status if location else None, meal.status if meal else None)
        if location is None or meal is None:
            return Adjustment(*statuses, None)
        if key not in self.store.stock:
            if delta <= 0:
                return Adjustment(*statuses, None)
            changed = self.store.stock[key] = Stock(key.location_id, key.meal_id, delta, 0, 1, now())
        else:
            stock = self.store.stock[key]
            if not stock.can_change_on_hand(delta):
                return Adjustment(*statuses, None)
            changed = self._set(stock, on_hand=stock.on_hand + delta)
        return Adjustment(*statuses, (changed, await self.post(entry)))

    async def post(self, entry: LedgerEntry) -> Posted:
        assert entry.delta != 0 and StockKey(entry.location_id, entry.meal_id) in self.store.stock
        posted = Posted(len(self.store.ledger) + 1, now())
        self.store.ledger.append((posted.id, entry))
        return posted


class FakeCustomers:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, email: str, name: str) -> Customer:
        if any(c.email.lower() == email.lower() for c in self.store.customers.values()):
            raise DuplicateKey(email)
        c = Customer(uuid.uuid4(), email, name, 1, now(), now())
        self.store.customers[c.id] = c
        return c

    async def get(self, customer_id: UUID) -> Customer | None:
        return self.store.customers.get(customer_id)


class FakeOrders:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add_later(self, new: NewOrder) -> Later[Order]:
        o = Order(
            uuid.uuid4(),
            new.customer_id,
            new.location_id,
            new.pickup_from,
            new.pickup_until,
            OrderStatus.PLACED,
            new.total_cents,
            1,
            now(),
            now(),
            new.lines,
        )
        self.store.orders[o.id] = o
        return _ready(o)

    async def get(self, order_id: UUID, lock: Lock = Lock.NONE) -> Order | None:
        return self.store.orders.get(order_id)

    async def save(self, order: Order) -> Order:
        saved = _bumped(order)
        self.store.orders[order.id] = saved
        return saved


class FakePlans:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, new: NewPlan) -> Plan:
        if any(p.code == new.code for p in self.store.plans.values()):
            raise DuplicateKey(new.code)
        p = Plan(
            uuid.uuid4(), new.code, new.name, new.meals_per_week, new.price_cents, PlanStatus.ACTIVE, 1, now(), now()
        )
        self.store.plans[p.id] = p
        return p

    async def get(self, plan_id: UUID, lock: Lock = Lock.NONE) -> Plan | None:
        return self.store.plans.get(plan_id)

    async def save(self, plan: Plan) -> Plan:
        saved = _bumped(plan)
        self.store.plans[plan.id] = saved
        return saved


class FakeSubscriptions:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, new: NewSubscription) -> Subscription:
        s = Subscription(
            uuid.uuid4(),
            new.customer_id,
            new.plan_id,
            new.location_id,
            SubscriptionStatus.ACTIVE,
            None,
            new.next_delivery_on,
            1,
            now(),
            now(),
        )
        self.store.subscriptions[s.id] = s
        return s

    async def get(self, subscription_id: UUID, lock: Lock = Lock.NONE) -> Subscription | None:
        return self.store.subscriptions.get(subscription_id)

    async def save(self, subscription: Subscription) -> Subscription:
        saved = _bumped(subscription)
        self.store.subscriptions[subscription.id] = saved
        return saved


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, store: Store | None = None) -> None:
        self.store = store if store is not None else Store()
        self.commits = 0
        self.rollbacks = 0
        self.responses: list[tuple[int, Any, dict[str, str]]] = []
        self._snapshot: Store | None = None

    async def __aenter__(self) -> Self:
        self._snapshot = self.store.copy()
        self.commit_lsn = None
        self.meals = FakeMeals(self.store)
        self.locations = FakeLocations(self.store)
        self.stock = FakeStockLevels(self.store)
        self.customers = FakeCustomers(self.store)
        self.orders = FakeOrders(self.store)
        self.plans = FakePlans(self.store)
        self.subscriptions = FakeSubscriptions(self.store)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._snapshot is not None
        if exc is not None:
            restored = self._snapshot
            for name in vars(restored):
                setattr(self.store, name, getattr(restored, name))
            self.rollbacks += 1
        else:
            self.commits += 1
            self.commit_lsn = f"0/{self.commits:X}"
        self._snapshot = None

    async def record_response(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        self.responses.append((status_code, body, headers))
