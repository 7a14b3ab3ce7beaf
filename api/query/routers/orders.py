from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Query, Request

from api.common.deps import CurrentPrincipal
from api.common.problems import QUERY_RESPONSES
from api.query.deps import Es
from api.query.documents import split_freshness
from api.query.freshness import ConsistencyToken, freshness
from api.query.models import OrderDetail, OrderPage, OrderView
from api.query.paging import page
from farmacy.auth import Principal, Role
from farmacy.errors import InvalidInput
from farmacy.vocabulary import OrderStatus

router = APIRouter(prefix="/orders", tags=["ordering"], responses=QUERY_RESPONSES)
VIEW = "orders"


def _utc(value: datetime, field: str) -> str:
    try:
        return (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise InvalidInput(f"{field} is out of range", field=field, rule="a date between years 1 and 9999") from exc


def scope(principal: Principal) -> list[dict[str, Any]]:
    """A customer sees only their own orders; admins and operators see all."""
    if principal.role is Role.CUSTOMER:
        return [{"term": {"customer.customer_id": str(principal.customer_id)}}]
    return []


@router.get("", response_model=OrderPage, summary="Orders: a customer's own; admins search by status, place, date")
async def list_orders(
    request: Request,
    es: Es,
    principal: CurrentPrincipal,
    token: ConsistencyToken,
    status: OrderStatus | None = None,
    location_id: UUID | None = None,
    customer_id: Annotated[UUID | None, Query(description="Admins only; customers always see their own")] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> OrderPage:
    view = await freshness(request, VIEW, token.lsn())
    filters = scope(principal)
    if status:
        filters.append({"term": {"status": status.value}})
    if location_id:
        filters.append({"term": {"location.location_id": str(location_id)}})
    if customer_id and principal.role is not Role.CUSTOMER:
        filters.append({"term": {"customer.customer_id": str(customer_id)}})
    if created_from or created_to:
        # In UTC: Elasticsearch parses offsets only up to +-18:00, the API accepts any ISO 8601 offset.
        rng = {
            k: _utc(v, name)
            for k, name, v in (("gte", "created_from", created_from), ("lte", "created_to", created_to))
            if v is not None
        }
        filters.append({"range": {"created_at": rng}})
    hits, total, next_cursor = await page(
        es, VIEW, {"bool": {"filter": filters}}, [{"created_at": "desc"}, {"order_id": "asc"}], size, cursor
    )
    items = []
    for h in hits:
        doc, doc_freshness = split_freshness(h["_source"])
        items.append(OrderView(**doc, freshness=doc_freshness))
    return OrderPage(items=items, total=total, next_cursor=next_cursor, view=view)


@router.get("/{order_id}", response_model=OrderDetail, summary="One order (customers: only their own)")
async def get_order(
    order_id: UUID,
    request: Request,
    es: Es,
    principal: CurrentPrincipal,
    token: ConsistencyToken,
) -> OrderDetail:
    view = await freshness(request, VIEW, token.lsn())
    try:
        hit = await es.get(VIEW, str(order_id))  # as searches see it (es_reads.py)
    except NotFoundError as exc:
        raise HTTPException(404, f"order {order_id} not found") from exc
    doc, doc_freshness = split_freshness(hit["_source"])
    if principal.role is Role.CUSTOMER and doc["customer"]["customer_id"] != str(principal.customer_id):
        raise HTTPException(404, f"order {order_id} not found")  # not 403: do not reveal that it exists
    return OrderDetail(**doc, freshness=doc_freshness, view=view)
