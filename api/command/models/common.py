from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from farmacy import consistency

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CommandBody(BaseModel):
    """Base of every request body: unknown fields are refused, and text may not contain control characters
    other than tab and line breaks (PostgreSQL cannot store NUL, Elasticsearch's completion field refuses
    U+001E/U+001F; refusing them here names the field instead of failing downstream)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and CONTROL.search(v) for v in items):
            raise ValueError("must not contain control characters (tab and line breaks are fine)")
        return value


class UpdateBody(CommandBody):
    """Base of PATCH bodies: omit a field to keep its value; an explicit null is refused (no column is nullable)."""

    @field_validator("*", mode="after")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("omit the field to keep its value; null is not allowed")
        return value


class CommandResult(BaseModel):
    consistency_token: str = Field(
        description=f"WAL position of the commit. Present it to the query API ({consistency.HEADER}) to "
        "read your own write.",
        examples=["0/1A2B3C4D"],
    )
