"""Commands of the write model, named in the imperative. Plain data; validated at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from farmacy.domain.model import AdjustmentReason, LocationKind


@dataclass(frozen=True)
class Actor:
    """Who issues a command: the token's subject and role (and customer id for customers)."""

    subject: str
    role: str
    customer_id: UUID | None = None


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
    extra: dict[str, str] = field(default_factory=dict)
