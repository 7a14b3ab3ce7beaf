from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from api.command.models.common import CommandBody, CommandResult, UpdateBody
from farmacy.vocabulary import PlanStatus, SubscriptionStatus


class PlanCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "five-a-week", "name": "Five a week", "meals_per_week": 5, "price_cents": 5495}]
        },
    )

    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    meals_per_week: int = Field(ge=1, le=21)
    price_cents: int = Field(ge=0, le=1_000_000)


class PlanUpdate(UpdateBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"price_cents": 5295}]})

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    meals_per_week: int | None = Field(None, ge=1, le=21)
    price_cents: int | None = Field(None, ge=0, le=1_000_000)


class PlanPublic(CommandResult):
    id: UUID
    code: str
    name: str
    meals_per_week: int
    price_cents: int
    status: PlanStatus
    version: int
    created_at: datetime
    updated_at: datetime


class SubscriptionCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plan_id": "2b0f6f53-1e4c-4d8e-9d3f-8f2a1c4b5e60",
                    "location_id": "6f1c0b7e-2f7e-4a39-9a57-1d7f8f3f0a11",
                }
            ]
        },
    )

    customer_id: UUID | None = Field(None, description="Admins subscribe on behalf of a customer; customers omit it")
    plan_id: UUID
    location_id: UUID = Field(description="Preferred pick-up location")


class SubscriptionUpdate(UpdateBody):
    """Change plan or pick-up location. Needs If-Match."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"location_id": "6f1c0b7e-2f7e-4a39-9a57-1d7f8f3f0a11"}]}
    )

    plan_id: UUID | None = None
    location_id: UUID | None = None


class PauseRequest(CommandBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"until": "2026-12-14"}]})

    until: date = Field(description="First day the subscription is active again (after today, within 180 days)")


class SubscriptionPublic(CommandResult):
    id: UUID
    customer_id: UUID
    plan_id: UUID
    location_id: UUID
    status: SubscriptionStatus
    paused_until: date | None
    next_delivery_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime
