from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.command.deps import IfMatch, RequiredIfMatch, Uow, respond
from api.command.models.subscriptions import PlanCreate, PlanPublic, PlanUpdate
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from writemodel.commands import CreatePlan, PlanPatch, RetirePlan, UpdatePlan
from writemodel.handlers import subscriptions

router = APIRouter(prefix="/subscription/plans", tags=["subscriptions"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PlanPublic, summary="Create a plan")
async def create_plan(body: PlanCreate, uow: Uow, response: Response, _admin: AdminPrincipal) -> Response:
    row = await subscriptions.create_plan(CreatePlan(**body.model_dump()), uow)
    return await respond(uow, response, PlanPublic, row, 201, location=f"/subscription/plans/{row.id}")


@router.patch("/{plan_id}", response_model=PlanPublic, summary="Update a plan (If-Match required)")
async def update_plan(
    plan_id: UUID, body: PlanUpdate, version: RequiredIfMatch, uow: Uow, response: Response, _admin: AdminPrincipal
) -> Response:
    row = await subscriptions.update_plan(
        UpdatePlan(plan_id, version, PlanPatch(**body.model_dump(exclude_unset=True))), uow
    )
    return await respond(uow, response, PlanPublic, row, 200)


@router.post("/{plan_id}/retire", response_model=PlanPublic, summary="Retire a plan (no new subscriptions)")
async def retire_plan(
    plan_id: UUID, version: IfMatch, uow: Uow, response: Response, _admin: AdminPrincipal
) -> Response:
    row = await subscriptions.retire_plan(RetirePlan(plan_id, version), uow)
    return await respond(uow, response, PlanPublic, row, 200)
