from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import ConfigDict, StringConstraints

from api.command.models.common import CommandBody, CommandResult

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
]


class CustomerCreate(CommandBody):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "ada@example.com", "name": "Ada Lovelace"}]}
    )

    email: Email
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CustomerPublic(CommandResult):
    id: UUID
    email: str
    name: str
    version: int
    created_at: datetime
