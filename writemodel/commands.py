"""Commands of the write model, named in the imperative. Plain data; validated at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from farmacy.vocabulary import AdjustmentReason, LocationKind, MealStatus, OrderStatus, SubscriptionStatus
from writemodel.domain.catalog import MealPatch
from writemodel.domain.locations import LocationPatch
from writemodel.domain.ordering import OrderLine
from writemodel.domain.subscriptions import PlanPatch

__all__ = [
    "Actor",
    "AdjustStock",
    "ChangeLocationStatus",
    "ChangeMealStatus",
    "ChangeOrderStatus",
    "ChangeSubscriptionStatus",
    "CountStock",
    "CreateLocation",
    "CreateMeal",
    "CreatePlan",
    "LocationPatch",
    "MealPatch",
    "OrderLine",
    "PlaceOrder",
    "PlanPatch",
    "RegisterCustomer",
    "RetirePlan",
    "Subscribe",
    "UpdateLocation",
    "UpdateMeal",
    "UpdatePlan",
    "UpdateSubscription",
]


@dataclass(frozen=True)
class Actor:
    """Who issues a command: the token's subject and role (and customer id for customers)."""

    subject: str
    role: str
    customer_id: UUID | None = None

    @property
    def customer_scope(self) -> UUID | None:
        """The customer whose rows this actor may reach; None for admins (all rows)."""
        if self.role == "customer":
            assert self.customer_id is not None, "customer tokens always carry a customer id"
            return self.customer_id
        return None


@dataclass(frozen=True)
class CreateMeal:
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
class CreateLocation:
    code: str
    name: str
    kind: LocationKind
    address: str
    city: str
    latitude: float
    longitude: float
    status: str | None = None


@dataclass(frozen=True)
class AdjustStock:
    location_id: UUID
    meal_id: UUID
    delta: int
    reason: AdjustmentReason
    actor: Actor
    note: str | None = None


@dataclass(frozen=True)
class UpdateMeal:
    meal_id: UUID
    expected_version: int
    patch: MealPatch


@dataclass(frozen=True)
class ChangeMealStatus:
    """Publish (-> active) or retire (-> retired) a meal."""

    meal_id: UUID
    target: MealStatus
    expected_version: int | None = None


@dataclass(frozen=True)
class UpdateLocation:
    location_id: UUID
    expected_version: int
    patch: LocationPatch


@dataclass(frozen=True)
class ChangeLocationStatus:
    """Move a location along its kind's status machine. ``target`` stays text: whether it names a status
    at all depends on the location's kind, which only the loaded location tells."""

    location_id: UUID
    target: str
    expected_version: int | None = None


@dataclass(frozen=True)
class CountStock:
    """Sets on_hand to what an inspection counted; the difference goes to the ledger."""

    location_id: UUID
    meal_id: UUID
    counted: int
    actor: Actor
    note: str | None = None


@dataclass(frozen=True)
class RegisterCustomer:
    email: str
    name: str


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: UUID
    location_id: UUID
    pickup_from: datetime
    pickup_until: datetime
    lines: list[OrderLine]


@dataclass(frozen=True)
class ChangeOrderStatus:
    """Cancel, mark ready, or pick up an order."""

    order_id: UUID
    target: OrderStatus
    actor: Actor
    expected_version: int | None = None


@dataclass(frozen=True)
class CreatePlan:
    code: str
    name: str
    meals_per_week: int
    price_cents: int


@dataclass(frozen=True)
class UpdatePlan:
    plan_id: UUID
    expected_version: int
    patch: PlanPatch


@dataclass(frozen=True)
class RetirePlan:
    plan_id: UUID
    expected_version: int | None = None


@dataclass(frozen=True)
class Subscribe:
    customer_id: UUID
    plan_id: UUID
    location_id: UUID


@dataclass(frozen=True)
class ChangeSubscriptionStatus:
    """Pause (until a date), resume or cancel a subscription."""

    subscription_id: UUID
    target: SubscriptionStatus
    actor: Actor
    paused_until: date | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class UpdateSubscription:
    """Change plan or pick-up location."""

    subscription_id: UUID
    actor: Actor
    expected_version: int
    plan_id: UUID | None = None
    location_id: UUID | None = None
