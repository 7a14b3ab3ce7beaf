from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from api.command.deps import IfMatch, Uow, respond
from api.command.models.orders import OrderCreate, OrderPublic
from api.common.deps import AdminPrincipal, CustomerOrAdmin
from api.common.problems import PROBLEM_RESPONSES
from farmacy.auth import Principal, Role
from farmacy.errors import Forbidden, InvalidInput
from farmacy.vocabulary import OrderStatus
from writemodel.commands import Actor, ChangeOrderStatus, OrderLine, PlaceOrder
from writemodel.handlers import ordering

router = APIRouter(prefix="/orders", tags=["ordering"], responses=PROBLEM_RESPONSES)


def acting_customer(principal: Principal, requested: UUID | None) -> UUID:
    """Customers act for themselves; admins name the customer they act for."""
    if principal.role is Role.CUSTOMER:
        assert principal.customer_id is not None
        if requested is not None and requested != principal.customer_id:
            raise Forbidden("customers may only act for themselves", field="customer_id", rule="must be your own id")
        return principal.customer_id
    if requested is None:
        raise InvalidInput("admins must name the customer", field="customer_id", rule="required for admins")
    return requested


def actor(principal: Principal) -> Actor:
    return Actor(principal.subject, principal.role.value, principal.customer_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrderPublic,
    summary="Place an order",
    description="Reserves stock for every line atomically at one operational location, or fails whole with 409 "
    "naming the short lines (`short_lines`).",
)
async def place_order(body: OrderCreate, uow: Uow, response: Response, principal: CustomerOrAdmin) -> Response:
    cmd = PlaceOrder(
        customer_id=acting_customer(principal, body.customer_id),
        location_id=body.location_id,
        pickup_from=body.pickup_from,
        pickup_until=body.pickup_until,
        lines=[OrderLine(line.meal_id, line.quantity) for line in body.lines],
    )
    row = await ordering.place_order(cmd, uow)
    return await respond(uow, response, OrderPublic, row, 201, location=f"/orders/{row.id}")


async def _transition(
    order_id: UUID, target: OrderStatus, principal: Principal, version: int | None, uow: Uow, response: Response
) -> Response:
    row = await ordering.change_order_status(ChangeOrderStatus(order_id, target, actor(principal), version), uow)
    return await respond(uow, response, OrderPublic, row, 200)


@router.post("/{order_id}/cancel", response_model=OrderPublic, summary="Cancel an order (releases its stock)")
async def cancel(
    order_id: UUID, version: IfMatch, uow: Uow, response: Response, principal: CustomerOrAdmin
) -> Response:
    return await _transition(order_id, OrderStatus.CANCELLED, principal, version, uow, response)


@router.post("/{order_id}/ready", response_model=OrderPublic, summary="Mark an order ready for pick-up")
async def ready(order_id: UUID, version: IfMatch, uow: Uow, response: Response, admin: AdminPrincipal) -> Response:
    return await _transition(order_id, OrderStatus.READY, admin, version, uow, response)


@router.post("/{order_id}/pickup", response_model=OrderPublic, summary="Pick up a ready order (consumes its stock)")
async def pickup(
    order_id: UUID, version: IfMatch, uow: Uow, response: Response, principal: CustomerOrAdmin
) -> Response:
    return await _transition(order_id, OrderStatus.PICKED_UP, principal, version, uow, response)
