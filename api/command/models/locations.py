from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints

from api.command.models.common import CommandBody, CommandResult, UpdateBody
from farmacy.vocabulary import LocationKind, LocationStatus


class LocationBase(CommandBody):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    address: str = Field("", max_length=500)
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class LocationCreate(LocationBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "SF-CENTRAL-01",
                    "name": "Central Station Fridge",
                    "kind": "smart_fridge",
                    "address": "1 Station Square",
                    "city": "Springfield",
                    "latitude": 39.7817,
                    "longitude": -89.6501,
                    "status": "online",
                }
            ]
        },
    )

    code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
    kind: LocationKind
    status: str | None = Field(
        None, description="Initial status; defaults to installed_off for fridges and open for kiosks/restaurants"
    )


class LocationPublic(LocationBase, CommandResult):
    id: UUID
    code: str
    kind: LocationKind
    status: LocationStatus
    version: int
    created_at: datetime
    updated_at: datetime


class LocationUpdate(UpdateBody):
    """Details to change; omitted fields keep their value. Needs If-Match. Status has its own endpoint."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "Central Station Fridge 2"}]})

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    address: str | None = Field(None, max_length=500)
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class LocationStatusChange(CommandBody):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"status": "offline"}]})

    status: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(
        description="Fridges: installed_off, online, offline, out_of_order, maintenance, decommissioned. "
        "Kiosks and restaurants: open, closed_temporarily, closed."
    )
