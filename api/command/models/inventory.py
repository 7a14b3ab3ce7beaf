from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import ConfigDict, Field

from api.command.models.common import CommandBody, CommandResult
from farmacy.vocabulary import AdjustmentReason


class AdjustmentCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "location_id": "6f1c0b7e-2f7e-4a39-9a57-1d7f8f3f0a11",
                    "meal_id": "0b7c4a55-59a8-4a4e-8b0f-3c3f1e2d4a10",
                    "delta": 12,
                    "reason": "replenish",
                    "note": "morning delivery",
                }
            ]
        },
    )

    location_id: UUID
    meal_id: UUID
    delta: int = Field(ge=-10_000, le=10_000, description="Units added (positive) or removed (negative); not 0")
    reason: AdjustmentReason
    note: str | None = Field(None, max_length=500)


class AdjustmentPublic(CommandResult):
    adjustment_id: int
    location_id: UUID
    meal_id: UUID
    delta: int
    reason: str
    on_hand: int
    reserved: int
    version: int
    created_at: datetime


class CountCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "location_id": "6f1c0b7e-2f7e-4a39-9a57-1d7f8f3f0a11",
                    "meal_id": "0b7c4a55-59a8-4a4e-8b0f-3c3f1e2d4a10",
                    "counted": 9,
                    "note": "weekly inspection",
                }
            ]
        },
    )

    location_id: UUID
    meal_id: UUID
    counted: int = Field(ge=0, le=100_000, description="Units physically counted; becomes on_hand")
    note: str | None = Field(None, max_length=500)


class CountPublic(CommandResult):
    adjustment_id: int | None = Field(description="Ledger entry of the difference; null when the count matched")
    location_id: UUID
    meal_id: UUID
    delta: int
    on_hand: int
    reserved: int
    version: int
