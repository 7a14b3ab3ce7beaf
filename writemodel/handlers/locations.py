"""Locations: creation with a status of its kind, edits, and the kinds' status machines."""

from __future__ import annotations

from writemodel.commands import ChangeLocationStatus, CreateLocation, UpdateLocation
from writemodel.domain import locations
from writemodel.domain.locations import Location
from writemodel.domain.rules import loaded
from writemodel.repositories import DuplicateKey, Lock
from writemodel.uow import UnitOfWork


async def create_location(cmd: CreateLocation, uow: UnitOfWork) -> Location:
    new = locations.new_location(
        cmd.code, cmd.name, cmd.kind, cmd.address, cmd.city, cmd.latitude, cmd.longitude, cmd.status
    )
    try:
        async with uow:
            return await uow.locations.add(new)
    except DuplicateKey as exc:
        raise locations.duplicate_code(cmd.code) from exc


async def _load(cmd: UpdateLocation | ChangeLocationStatus, uow: UnitOfWork, version: int | None) -> Location:
    return loaded(await uow.locations.get(cmd.location_id, Lock.UPDATE), "location", cmd.location_id, version)


async def update_location(cmd: UpdateLocation, uow: UnitOfWork) -> Location:
    async with uow:
        location = await _load(cmd, uow, cmd.expected_version)
        edited = locations.edit(location, cmd.patch)
        return location if edited is None else await uow.locations.save(edited)


async def change_location_status(cmd: ChangeLocationStatus, uow: UnitOfWork) -> Location:
    async with uow:
        location = await _load(cmd, uow, cmd.expected_version)
        return await uow.locations.save(locations.change_status(location, cmd.target))
