from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.command.deps import Uow, respond
from api.command.models.customers import CustomerCreate, CustomerPublic
from api.common.problems import PROBLEM_RESPONSES
from writemodel.commands import RegisterCustomer
from writemodel.handlers import ordering

router = APIRouter(prefix="/customers", tags=["ordering"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CustomerPublic,
    summary="Register a customer",
    description="Open to anyone. The returned id goes into the customer's token (`farmacy token --role customer "
    "--customer-id ...` locally). An email registers once (409).",
)
async def register(body: CustomerCreate, uow: Uow, response: Response) -> Response:
    row = await ordering.register_customer(RegisterCustomer(body.email, body.name), uow)
    return await respond(uow, response, CustomerPublic, row, 201, location=f"/customers/{row.id}")
