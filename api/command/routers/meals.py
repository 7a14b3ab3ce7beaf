from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.command.deps import IfMatch, RequiredIfMatch, Uow, respond
from api.command.models.meals import MealCreate, MealPublic, MealUpdate
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from farmacy.vocabulary import MealStatus
from writemodel.commands import ChangeMealStatus, CreateMeal, MealPatch, UpdateMeal
from writemodel.handlers import catalog

router = APIRouter(prefix="/catalog/meals", tags=["catalog"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=MealPublic, summary="Create a meal (draft)")
async def create_meal(body: MealCreate, uow: Uow, response: Response, _admin: AdminPrincipal) -> Response:
    row = await catalog.create_meal(CreateMeal(**body.model_dump(mode="json")), uow)
    return await respond(uow, response, MealPublic, row, 201, location=f"/catalog/meals/{row.id}")


@router.patch("/{meal_id}", response_model=MealPublic, summary="Update a meal (If-Match required)")
async def update_meal(
    meal_id: UUID, body: MealUpdate, version: RequiredIfMatch, uow: Uow, response: Response, _admin: AdminPrincipal
) -> Response:
    patch = MealPatch(**body.model_dump(mode="json", exclude_unset=True))
    row = await catalog.update_meal(UpdateMeal(meal_id, version, patch), uow)
    return await respond(uow, response, MealPublic, row, 200)


@router.post("/{meal_id}/publish", response_model=MealPublic, summary="Publish a draft meal (-> active)")
async def publish_meal(
    meal_id: UUID, version: IfMatch, uow: Uow, response: Response, _admin: AdminPrincipal
) -> Response:
    row = await catalog.change_meal_status(ChangeMealStatus(meal_id, MealStatus.ACTIVE, version), uow)
    return await respond(uow, response, MealPublic, row, 200)


@router.post("/{meal_id}/retire", response_model=MealPublic, summary="Retire a meal (-> retired, final)")
async def retire_meal(
    meal_id: UUID, version: IfMatch, uow: Uow, response: Response, _admin: AdminPrincipal
) -> Response:
    row = await catalog.change_meal_status(ChangeMealStatus(meal_id, MealStatus.RETIRED, version), uow)
    return await respond(uow, response, MealPublic, row, 200)
