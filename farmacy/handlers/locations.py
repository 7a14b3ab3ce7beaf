"""Inventory context: locations and their status rules."""

from __future__ import annotations

from typing import Any

import psycopg

from farmacy.commands import CreateLocation
from farmacy.domain.errors import Conflict, InvalidInput
from farmacy.domain.model import INITIAL_STATUS, statuses_for
from farmacy.uow import UnitOfWork

LOCATION_COLUMNS = (
    "id, code, name, kind, address, city, latitude, longitude, status, version, created_at, updated_at"
)


async def create_location(cmd: CreateLocation, uow: UnitOfWork) -> dict[str, Any]:
    status = cmd.status or INITIAL_STATUS[cmd.kind]
    if status not in statuses_for(cmd.kind):
        raise InvalidInput(
            f"status '{status}' does not exist for a {cmd.kind}; allowed: {sorted(statuses_for(cmd.kind))}",
            field="status", rule=f"must be a {cmd.kind} status",
        )
    try:
        async with uow.transaction() as conn:
            cur = await conn.execute(
                f"""INSERT INTO inventory.locations (code, name, kind, address, city, latitude, longitude, status)
                    VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {LOCATION_COLUMNS}""",
                [cmd.code, cmd.name, cmd.kind.value, cmd.address, cmd.city, cmd.latitude, cmd.longitude, status],
            )
            row = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(f"a location with code '{cmd.code}' already exists", field="code",
                       rule="must be unique") from exc
    assert row is not None
    return dict(row)
