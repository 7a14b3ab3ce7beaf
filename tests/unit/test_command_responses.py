"""The command API's response bodies and idempotency request paths, built without a request or a database."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import Request

from api.command.deps import public_body, url_path
from api.command.models.inventory import AdjustmentPublic, CountPublic
from api.command.models.orders import OrderPublic
from farmacy.vocabulary import OrderStatus
from writemodel.domain.ordering import Order, PricedLine
from writemodel.handlers.inventory import Adjusted, Counted

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ORDER = Order(
    uuid.uuid4(),
    uuid.uuid4(),
    uuid.uuid4(),
    NOW,
    NOW,
    OrderStatus.PLACED,
    1500,
    1,
    NOW,
    NOW,
    lines=(PricedLine(1, uuid.uuid4(), 2, 500), PricedLine(2, uuid.uuid4(), 1, 500)),
)


@pytest.mark.parametrize(
    ("model", "result"),
    [
        (AdjustmentPublic, Adjusted(7, NOW, -2, "remove", uuid.uuid4(), uuid.uuid4(), 3, 1, 4, NOW)),
        (CountPublic, Counted(None, 0, uuid.uuid4(), uuid.uuid4(), 5, 0, 1, NOW)),
        (OrderPublic, ORDER),
    ],
)
def test_the_body_is_what_the_model_gives_for_the_result_as_a_dict(model: type[BaseModel], result: Any) -> None:
    expected = model(**dataclasses.asdict(result), consistency_token="").model_dump(mode="json")
    body = public_body(model, result)
    assert body == expected and list(body) == list(expected)
    assert body["consistency_token"] == ""


@pytest.mark.parametrize(
    "path", ["/inventory/adjustments", f"/orders/{uuid.uuid4()}/cancel", "/odd?path#with\\marks", "/ünï cödé"]
)
def test_the_idempotency_path_is_the_request_urls_path(path: str) -> None:
    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"host", b"api:8001")], "query_string": b""}
    assert url_path(path) == Request(scope).url.path
