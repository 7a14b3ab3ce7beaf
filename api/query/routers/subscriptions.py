from __future__ import annotations

from typing import Annotated
from uuid import UUID

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Query, Request

from api.common.deps import CurrentPrincipal
from api.common.problems import QUERY_RESPONSES
from api.query.deps import Es
from api.query.documents import split_freshness
from api.query.freshness import ConsistencyToken, freshness
from api.query.models import SubscriptionDetail, SubscriptionPage, SubscriptionView
from api.query.paging import page
from api.query.routers.orders import scope
from farmacy.auth import Role
from farmacy.vocabulary import SubscriptionStatus

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], responses=QUERY_RESPONSES)
VIEW = "subscriptions"


@router.get("", response_model=SubscriptionPage, summary="Subscriptions: a customer's own; admins search")
async def list_subscriptions(
    request: Request,
    es: Es,
    principal: CurrentPrincipal,
    token: ConsistencyToken,
    status: SubscriptionStatus | None = None,
    location_id: UUID | None = None,
    plan_id: UUID | None = None,
    customer_id: Annotated[UUID | None, Query(description="Admins only; customers always see their own")] = None,
    size: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> SubscriptionPage:
    view = await freshness(request, VIEW, token.lsn())
    filters = scope(principal)
    for fld, value in (
        ("status", status.value if status else None),
        ("location.location_id", location_id),
        ("plan.plan_id", plan_id),
    ):
        if value:
            filters.append({"term": {fld: str(value)}})
    if customer_id and principal.role is not Role.CUSTOMER:
        filters.append({"term": {"customer.customer_id": str(customer_id)}})
    hits, total, next_cursor = await page(
        es, VIEW, {"bool": {"filter": filters}}, [{"created_at": "desc"}, {"subscription_id": "asc"}], size, cursor
    )
    items = []
    for h in hits:
        doc, doc_freshness = split_freshness(h["_source"])
        items.append(SubscriptionView(**doc, freshness=doc_freshness))
    return SubscriptionPage(items=items, total=total, next_cursor=next_cursor, view=view)


@router.get("/{subscription_id}", response_model=SubscriptionDetail, summary="One subscription")
async def get_subscription(
    subscription_id: UUID,
    request: Request,
    es: Es,
    principal: CurrentPrincipal,
    token: ConsistencyToken,
) -> SubscriptionDetail:
    view = await freshness(request, VIEW, token.lsn())
    try:
        hit = await es.get(VIEW, str(subscription_id))  # as searches see it (es_reads.py)
    except NotFoundError as exc:
        raise HTTPException(404, f"subscription {subscription_id} not found") from exc
    doc, doc_freshness = split_freshness(hit["_source"])
    if principal.role is Role.CUSTOMER and doc["customer"]["customer_id"] != str(principal.customer_id):
        raise HTTPException(404, f"subscription {subscription_id} not found")
    return SubscriptionDetail(**doc, freshness=doc_freshness, view=view)
