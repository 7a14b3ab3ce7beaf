from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.command.deps import Uow, stamp
from api.command.models.meals import MealCreate, MealPublic
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from farmacy.commands import CreateMeal
from farmacy.handlers import catalog

router = APIRouter(prefix="/catalog/meals", tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MealPublic, summary="Create a meal (draft)")
async def create_meal(body: MealCreate, uow: Uow, response: Response, _admin: AdminPrincipal) -> MealPublic:
    row = await catalog.create_meal(CreateMeal(**body.model_dump(mode="json")), uow)
    token = stamp(response, uow)
    response.headers["Location"] = f"/catalog/meals/{row['id']}"
    response.headers["ETag"] = f'"{row["version"]}"'
    return MealPublic(**row, consistency_token=token)
