from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.command.deps import Uow, respond
from api.command.models.inventory import AdjustmentCreate, AdjustmentPublic, CountCreate, CountPublic
from api.common.deps import AdminPrincipal
from api.common.problems import PROBLEM_RESPONSES
from writemodel.commands import Actor, AdjustStock, CountStock
from writemodel.handlers import inventory

router = APIRouter(prefix="/inventory", tags=["inventory"], responses=PROBLEM_RESPONSES)


@router.post(
    "/adjustments",
    status_code=status.HTTP_201_CREATED,
    response_model=AdjustmentPublic,
    summary="Post a stock adjustment (appended to the ledger)",
    description="Changes on_hand at one location for one meal. 409 if the result would be negative or "
    "below what is reserved for orders; 422 if a referenced location or meal does not exist.",
)
async def post_adjustment(body: AdjustmentCreate, uow: Uow, response: Response, admin: AdminPrincipal) -> Response:
    cmd = AdjustStock(
        location_id=body.location_id,
        meal_id=body.meal_id,
        delta=body.delta,
        reason=body.reason,
        actor=Actor(admin.subject, admin.role.value),
        note=body.note,
    )
    row = await inventory.adjust_stock(cmd, uow)
    return await respond(uow, response, AdjustmentPublic, row, 201)


@router.post(
    "/counts",
    status_code=status.HTTP_201_CREATED,
    response_model=CountPublic,
    summary="Record a stock count after inspection",
    description="Sets on_hand to the counted units; the difference is appended to the ledger (reason 'count'). "
    "409 if the count is below what is reserved for orders.",
)
async def post_count(body: CountCreate, uow: Uow, response: Response, admin: AdminPrincipal) -> Response:
    cmd = CountStock(body.location_id, body.meal_id, body.counted, Actor(admin.subject, admin.role.value), body.note)
    row = await inventory.count_stock(cmd, uow)
    return await respond(uow, response, CountPublic, row, 201)
