from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.command.deps import IfMatch, RequiredIfMatch, Uow, respond
from api.command.models.subscriptions import PauseRequest, SubscriptionCreate, SubscriptionPublic, SubscriptionUpdate
from api.command.routers.orders import acting_customer, actor
from api.common.deps import CustomerOrAdmin
from api.common.problems import PROBLEM_RESPONSES
from farmacy.vocabulary import SubscriptionStatus
from writemodel.commands import ChangeSubscriptionStatus, Subscribe, UpdateSubscription
from writemodel.handlers import subscriptions

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SubscriptionPublic, summary="Subscribe to a plan")
async def subscribe(body: SubscriptionCreate, uow: Uow, response: Response, principal: CustomerOrAdmin) -> Response:
    cmd = Subscribe(acting_customer(principal, body.customer_id), body.plan_id, body.location_id)
    row = await subscriptions.subscribe(cmd, uow)
    return await respond(uow, response, SubscriptionPublic, row, 201, location=f"/subscriptions/{row.id}")


@router.patch(
    "/{subscription_id}", response_model=SubscriptionPublic, summary="Change plan or pick-up location (If-Match)"
)
async def update(
    subscription_id: UUID,
    body: SubscriptionUpdate,
    version: RequiredIfMatch,
    uow: Uow,
    response: Response,
    principal: CustomerOrAdmin,
) -> Response:
    cmd = UpdateSubscription(subscription_id, actor(principal), version, body.plan_id, body.location_id)
    row = await subscriptions.update_subscription(cmd, uow)
    return await respond(uow, response, SubscriptionPublic, row, 200)


@router.post("/{subscription_id}/pause", response_model=SubscriptionPublic, summary="Pause until a date")
async def pause(
    subscription_id: UUID,
    body: PauseRequest,
    version: IfMatch,
    uow: Uow,
    response: Response,
    principal: CustomerOrAdmin,
) -> Response:
    cmd = ChangeSubscriptionStatus(subscription_id, SubscriptionStatus.PAUSED, actor(principal), body.until, version)
    row = await subscriptions.change_subscription_status(cmd, uow)
    return await respond(uow, response, SubscriptionPublic, row, 200)


@router.post("/{subscription_id}/resume", response_model=SubscriptionPublic, summary="Resume a paused subscription")
async def resume(
    subscription_id: UUID, version: IfMatch, uow: Uow, response: Response, principal: CustomerOrAdmin
) -> Response:
    cmd = ChangeSubscriptionStatus(subscription_id, SubscriptionStatus.ACTIVE, actor(principal), None, version)
    row = await subscriptions.change_subscription_status(cmd, uow)
    return await respond(uow, response, SubscriptionPublic, row, 200)


@router.post("/{subscription_id}/cancel", response_model=SubscriptionPublic, summary="Cancel (final)")
async def cancel(
    subscription_id: UUID, version: IfMatch, uow: Uow, response: Response, principal: CustomerOrAdmin
) -> Response:
    cmd = ChangeSubscriptionStatus(subscription_id, SubscriptionStatus.CANCELLED, actor(principal), None, version)
    row = await subscriptions.change_subscription_status(cmd, uow)
    return await respond(uow, response, SubscriptionPublic, row, 200)
