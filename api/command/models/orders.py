from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from api.command.models.common import CommandBody, CommandResult
from farmacy.vocabulary import OrderStatus
from writemodel.domain.ordering import MAX_ORDER_LINES


class OrderLineIn(CommandBody):
    model_config = ConfigDict(extra="forbid")

    meal_id: UUID
    quantity: int = Field(ge=1, le=50)


class OrderCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "location_id": "6f1c0b7e-2f7e-4a39-9a57-1d7f8f3f0a11",
                    "pickup_from": "2026-11-26T11:30:00Z",
                    "pickup_until": "2026-11-26T13:00:00Z",
                    "lines": [{"meal_id": "0b7c4a55-59a8-4a4e-8b0f-3c3f1e2d4a10", "quantity": 2}],
                }
            ]
        },
    )

    customer_id: UUID | None = Field(None, description="Admins order on behalf of a customer; customers omit it")
    location_id: UUID
    pickup_from: AwareDatetime
    pickup_until: AwareDatetime
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_ORDER_LINES)

    @field_validator("lines", mode="after")
    @classmethod
    def _one_line_per_meal(cls, lines: list[OrderLineIn]) -> list[OrderLineIn]:
        meals = [line.meal_id for line in lines]
        if len(set(meals)) != len(meals):
            raise ValueError("each meal may appear once; add up the quantities")
        return lines


class OrderLinePublic(BaseModel):
    line_no: int
    meal_id: UUID
    quantity: int
    unit_price_cents: int


class OrderPublic(CommandResult):
    id: UUID
    customer_id: UUID
    location_id: UUID
    pickup_from: datetime
    pickup_until: datetime
    status: OrderStatus
    total_cents: int
    lines: list[OrderLinePublic]
    version: int
    created_at: datetime
    updated_at: datetime
