"""Property-based: random sequences of stock and order commands, run through the real handlers on real
PostgreSQL, never break the stock invariants (checked after every step):

- on_hand >= 0, 0 <= reserved <= on_hand
- for every (location, meal) the ledger sums to on_hand
- reserved equals the quantities of the open (placed or ready) orders for that (location, meal)
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from farmacy.errors import DomainError
from farmacy.settings import Settings
from farmacy.vocabulary import AdjustmentReason, LocationKind, MealStatus, OrderStatus
from tests.support.api import unique_code
from writemodel import commands as c
from writemodel.handlers import catalog, inventory, locations, ordering
from writemodel.uow import PostgresUnitOfWork, make_pool

pytestmark = pytest.mark.integration

ADMIN = c.Actor("property-test", "admin")
FRIDGE_STATUSES = ["online", "online", "online", "offline", "maintenance", "out_of_order"]


class StockMachine(RuleBasedStateMachine):
    settings_: Settings

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.pool = make_pool(self.settings_.pg_dsn, min_size=1, max_size=2)
        self.run(self.pool.open(wait=True))
        self.locations: list[uuid.UUID] = []
        self.meals: list[uuid.UUID] = []
        self.orders: list[uuid.UUID] = []
        self.customer: uuid.UUID | None = None

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def do(self, handler: Any, cmd: Any) -> Any:
        try:
            return self.run(handler(cmd, PostgresUnitOfWork(self.pool)))
        except DomainError:
            return None  # refused commands are part of the sequence; they must change nothing

    @initialize()
    def world(self) -> None:
        for _ in range(2):
            loc = self.run(
                locations.create_location(
                    c.CreateLocation(
                        unique_code("PB"), "prop", LocationKind.SMART_FRIDGE, "", "Propville", 1.0, 2.0, "online"
                    ),
                    PostgresUnitOfWork(self.pool),
                )
            )
            self.locations.append(loc.id)
        for _ in range(2):
            meal = self.run(
                catalog.create_meal(
                    c.CreateMeal("prop meal", "", [], [], [], 100, 0, 0, 0, 500), PostgresUnitOfWork(self.pool)
                )
            )
            self.run(
                catalog.change_meal_status(
                    c.ChangeMealStatus(meal.id, MealStatus.ACTIVE), PostgresUnitOfWork(self.pool)
                )
            )
            self.meals.append(meal.id)
        cust = self.run(
            ordering.register_customer(
                c.RegisterCustomer(f"prop-{uuid.uuid4().hex[:10]}@example.com", "P"), PostgresUnitOfWork(self.pool)
            )
        )
        self.customer = cust.id

    @rule(
        loc=st.integers(0, 1),
        meal=st.integers(0, 1),
        delta=st.integers(-6, 8),
        reason=st.sampled_from(list(AdjustmentReason)),
    )
    def adjust(self, loc: int, meal: int, delta: int, reason: AdjustmentReason) -> None:
        self.do(inventory.adjust_stock, c.AdjustStock(self.locations[loc], self.meals[meal], delta, reason, ADMIN))

    @rule(loc=st.integers(0, 1), meal=st.integers(0, 1), counted=st.integers(0, 12))
    def count(self, loc: int, meal: int, counted: int) -> None:
        self.do(inventory.count_stock, c.CountStock(self.locations[loc], self.meals[meal], counted, ADMIN))

    @rule(loc=st.integers(0, 1), q1=st.integers(0, 4), q2=st.integers(0, 4))
    def place(self, loc: int, q1: int, q2: int) -> None:
        lines = [c.OrderLine(m, q) for m, q in zip(self.meals, (q1, q2), strict=True) if q > 0]
        if not lines:
            return
        now = datetime.now(UTC)
        assert self.customer is not None
        order = self.do(
            ordering.place_order,
            c.PlaceOrder(self.customer, self.locations[loc], now + timedelta(hours=1), now + timedelta(hours=2), lines),
        )
        if order is not None:
            self.orders.append(order.id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), to=st.sampled_from([OrderStatus.CANCELLED, OrderStatus.READY, OrderStatus.PICKED_UP]))
    def move_order(self, data: st.DataObject, to: OrderStatus) -> None:
        order = data.draw(st.sampled_from(self.orders))
        self.do(ordering.change_order_status, c.ChangeOrderStatus(order, to, ADMIN))

    @rule(loc=st.integers(0, 1), status=st.sampled_from(FRIDGE_STATUSES))  # "online" drawn most often
    def location_status(self, loc: int, status: str) -> None:
        self.do(locations.change_location_status, c.ChangeLocationStatus(self.locations[loc], status))

    @invariant()
    def stock_invariants_hold(self) -> None:
        if not self.locations:
            return
        with psycopg.connect(self.settings_.pg_dsn) as conn:
            rows = conn.execute(
                """
                SELECT s.location_id, s.meal_id, s.on_hand, s.reserved,
                       (SELECT coalesce(sum(delta), 0) FROM inventory.adjustments a
                         WHERE a.location_id = s.location_id AND a.meal_id = s.meal_id) AS ledger,
                       (SELECT coalesce(sum(l.quantity), 0) FROM ordering.orders o
                          JOIN ordering.order_lines l ON l.order_id = o.id
                         WHERE o.location_id = s.location_id AND l.meal_id = s.meal_id
                           AND o.status IN ('placed', 'ready')) AS open_quantity
                FROM inventory.stock s WHERE s.location_id = ANY(%s)""",
                [self.locations],
            ).fetchall()
        for _loc, _meal, on_hand, reserved, ledger, open_quantity in rows:
            assert on_hand >= 0
            assert 0 <= reserved <= on_hand
            assert ledger == on_hand
            assert reserved == open_quantity

    def teardown(self) -> None:
        self.run(self.pool.close())
        self.loop.close()


StockMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStockInvariants = StockMachine.TestCase


@pytest.fixture(autouse=True)
def _bind_settings(stack: Settings) -> None:
    StockMachine.settings_ = stack
