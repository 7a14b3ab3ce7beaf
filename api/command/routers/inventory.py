from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.command.deps import Uow, stamp
from api.command.models.inventory import AdjustmentCreate, AdjustmentPublic
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from farmacy.commands import Actor, AdjustStock
from farmacy.handlers import inventory

router = APIRouter(prefix="/inventory", tags=["inventory"], responses=PROBLEM_RESPONSES)


@router.post(
    "/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentPublic,
    summary="Post a stock adjustment (appended to the ledger)",
    description="Changes on_hand at one location for one meal. 409 if the result would be negative or "
    "below what is reserved for orders; 422 if a referenced location or meal does not exist.",
)
async def post_adjustment(
    body: AdjustmentCreate, uow: Uow, response: Response, admin: AdminPrincipal
) -> AdjustmentPublic:
    cmd = AdjustStock(
        location_id=body.location_id,
        meal_id=body.meal_id,
        delta=body.delta,
        reason=body.reason,
        actor=Actor(admin.subject, admin.role.value),
        note=body.note,
    )
    result = await inventory.adjust_stock(cmd, uow)
    return AdjustmentPublic(**result, consistency_token=stamp(response, uow))
