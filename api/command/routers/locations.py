from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.command.deps import Uow, stamp
from api.command.models.locations import LocationCreate, LocationPublic
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from farmacy.commands import CreateLocation
from farmacy.handlers import locations

router = APIRouter(prefix="/locations", tags=["locations"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=LocationPublic, summary="Create a location")
async def create_location(body: LocationCreate, uow: Uow, response: Response, _admin: AdminPrincipal) -> LocationPublic:
    row = await locations.create_location(CreateLocation(**body.model_dump()), uow)
    token = stamp(response, uow)
    response.headers["Location"] = f"/locations/{row['id']}"
    response.headers["ETag"] = f'"{row["version"]}"'
    return LocationPublic(**row, consistency_token=token)
