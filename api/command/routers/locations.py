from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.command.deps import IfMatch, RequiredIfMatch, Uow, respond
from api.command.models.locations import LocationCreate, LocationPublic, LocationStatusChange, LocationUpdate
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from writemodel.commands import ChangeLocationStatus, CreateLocation, LocationPatch, UpdateLocation
from writemodel.handlers import locations

router = APIRouter(prefix="/locations", tags=["locations"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=LocationPublic, summary="Create a location")
async def create_location(body: LocationCreate, uow: Uow, response: Response, _admin: AdminPrincipal) -> Response:
    row = await locations.create_location(CreateLocation(**body.model_dump()), uow)
    return await respond(uow, response, LocationPublic, row, 201, location=f"/locations/{row.id}")


@router.patch("/{location_id}", response_model=LocationPublic, summary="Update details (If-Match required)")
async def update_location(
    location_id: UUID,
    body: LocationUpdate,
    version: RequiredIfMatch,
    uow: Uow,
    response: Response,
    _admin: AdminPrincipal,
) -> Response:
    cmd = UpdateLocation(location_id, version, LocationPatch(**body.model_dump(exclude_unset=True)))
    row = await locations.update_location(cmd, uow)
    return await respond(uow, response, LocationPublic, row, 200)


@router.post(
    "/{location_id}/status",
    response_model=LocationPublic,
    summary="Change status along the kind's state rules",
    description="An invalid transition (e.g. a decommissioned fridge going online) is 409.",
)
async def change_status(
    location_id: UUID,
    body: LocationStatusChange,
    version: IfMatch,
    uow: Uow,
    response: Response,
    _admin: AdminPrincipal,
) -> Response:
    row = await locations.change_location_status(ChangeLocationStatus(location_id, body.status, version), uow)
    return await respond(uow, response, LocationPublic, row, 200)
