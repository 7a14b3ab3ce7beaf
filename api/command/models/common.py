from __future__ import annotations

from pydantic import BaseModel, Field


class CommandResult(BaseModel):
    consistency_token: str = Field(
        description="WAL position of the commit. Present it to the query API (X-Consistency-Token) to "
        "read your own write.",
        examples=["0/1A2B3C4D"],
    )
