"""Inventory context: locations and their status rules (fridge and storefront state machines)."""

from __future__ import annotations

from typing import Any

import psycopg

from farmacy.errors import Conflict, InvalidInput, InvalidTransition
from writemodel.commands import ChangeLocationStatus, CreateLocation, UpdateLocation
from writemodel.domain.model import (
    INITIAL_STATUS,
    RETIRED_LOCATION_STATUSES,
    statuses_for,
    transition_error,
    transitions_for,
)
from writemodel.handlers.versioned import load_for_update, update_row
from writemodel.uow import UnitOfWork

LOCATION_COLUMNS = "id, code, name, kind, address, city, latitude, longitude, status, version, created_at, updated_at"


async def create_location(cmd: CreateLocation, uow: UnitOfWork) -> dict[str, Any]:
    status = cmd.status or INITIAL_STATUS[cmd.kind]
    if status not in statuses_for(cmd.kind):
        raise InvalidInput(
            f"status '{status}' does not exist for a {cmd.kind}; allowed: {sorted(statuses_for(cmd.kind))}",
            field="status",
            rule=f"must be a {cmd.kind} status",
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
        raise Conflict(
            f"a location with code '{cmd.code}' already exists", field="code", rule="must be unique"
        ) from exc
    assert row is not None
    return dict(row)


async def update_location(cmd: UpdateLocation, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        loc = await load_for_update(conn, "inventory.locations", cmd.location_id, cmd.expected_version, "location")
        if loc["status"] in RETIRED_LOCATION_STATUSES:
            raise Conflict(f"a {loc['status']} location cannot be edited", rule="location must not be retired")
        if not cmd.changes:
            return loc
        return await update_row(conn, "inventory.locations", cmd.location_id, cmd.changes, LOCATION_COLUMNS)


async def change_location_status(cmd: ChangeLocationStatus, uow: UnitOfWork) -> dict[str, Any]:
    async with uow.transaction() as conn:
        loc = await load_for_update(conn, "inventory.locations", cmd.location_id, cmd.expected_version, "location")
        if cmd.target not in statuses_for(loc["kind"]):
            raise InvalidInput(
                f"'{cmd.target}' is not a status of a {loc['kind']}; statuses: {sorted(statuses_for(loc['kind']))}",
                field="status",
                rule=f"must be a {loc['kind']} status",
            )
        if why := transition_error(loc["kind"], loc["status"], cmd.target, transitions_for(loc["kind"])):
            raise InvalidTransition(why, field="status", rule=f"valid {loc['kind']} status transition")
        return await update_row(conn, "inventory.locations", cmd.location_id, {"status": cmd.target}, LOCATION_COLUMNS)
