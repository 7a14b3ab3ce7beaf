"""Dependencies of the command API: unit of work (with idempotency claim), If-Match, responses."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import fields
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from api.common.deps import bearer, principal_of
from api.common.json_response import JsonBody
from farmacy import consistency
from farmacy.errors import InvalidInput, PreconditionRequired
from writemodel.uow import IdempotencyClaim, PostgresUnitOfWork, UnitOfWork, canonical_json

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Retry-safe POST: the same key and body return the first response with no second effect "
        "(its consistency token taken at the replay, never older); the same key with another body is 422.",
    ),
]


async def unit_of_work(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    key: IdempotencyKey = None,
) -> AsyncIterator[UnitOfWork]:
    """The command's unit of work, claiming the request's Idempotency-Key if it has one. One dependency, not one per
    step (key, principal, claim): FastAPI's cost is per dependency, and every command pays it."""
    settings = request.app.state.settings
    claim = None
    if key is not None and request.method == "POST":
        claim = await idempotency_claim(request, principal_name(request, creds), key)
    uow = PostgresUnitOfWork(request.app.state.pool, claim, hold_commit=True, key_ttl_s=settings.idempotency_ttl_s)
    try:
        yield uow
    finally:
        await uow.close()


def principal_name(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    """Scope of idempotency keys: the token's subject (keys of different principals never collide)."""
    if creds is None:
        return "anonymous"
    try:
        p = principal_of(request.app, creds.credentials)
    except HTTPException:
        return "anonymous"  # the route's own auth dependency answers 401 (or 503)
    if p.customer_id is not None:  # a customer's keys are theirs, whatever the token's subject
        return f"customer:{p.customer_id}"
    return f"{p.role}:{p.subject}"


async def idempotency_claim(request: Request, principal: str, key: str) -> IdempotencyClaim:
    path = url_path(request.scope["path"])
    digest = hashlib.sha256(
        request.method.encode() + b" " + path.encode() + b"\n" + canonical_json(await request.body())
    ).hexdigest()
    # No look-up here: the command's transaction claims the key, and a key already taken is replayed (or refused
    # when the request differs) by the replay handler.
    return IdempotencyClaim(principal, key, request.method, path, digest)


def url_path(path: str) -> str:
    """The path as ``request.url.path`` spells it (the hashes and paths of stored keys were taken with it), without
    building the whole URL of the request."""
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


Uow = Annotated[UnitOfWork, Depends(unit_of_work)]

ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def _parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    match = ETAG.match(value.strip())
    if match is None:
        raise InvalidInput(
            f"If-Match {value!r} is not an ETag of this API",
            field="If-Match",
            rule='must be the ETag of the resource, like "3"',
        )
    return int(match.group(1))


async def optional_if_match(
    value: Annotated[str | None, Header(alias="If-Match", description='ETag the change is based on, e.g. "3"')] = None,
) -> int | None:
    return _parse_if_match(value)


async def required_if_match(
    value: Annotated[str | None, Header(alias="If-Match", description='ETag the update is based on, e.g. "3"')] = None,
) -> int:
    version = _parse_if_match(value)
    if version is None:
        raise PreconditionRequired("send If-Match with the ETag you read", field="If-Match", rule="required on updates")
    return version


IfMatch = Annotated[int | None, Depends(optional_if_match)]
RequiredIfMatch = Annotated[int, Depends(required_if_match)]


async def respond(
    uow: UnitOfWork,
    response: Response,
    model: type[BaseModel],
    result: Any,
    status_code: int,
    location: str | None = None,
) -> Response:
    """Builds the response body from a handler's result (a dataclass), stores it with the command's idempotency key
    inside the command's transaction and commits it (see PostgresUnitOfWork), then adds the consistency token and
    sets ETag / Location.

    The body is validated once, by ``model``, and written as it is: the route's ``response_model`` documents it,
    and FastAPI does not validate and serialize it a second time."""
    body = public_body(model, result)
    headers: dict[str, str] = {}
    if "version" in _field_names(type(result)):
        headers["ETag"] = f'"{result.version}"'
    if location:
        headers["Location"] = location
    await uow.record_response(status_code, body, {**headers, consistency.HEADER: ""})
    token = uow.commit_lsn or ""
    body["consistency_token"] = token
    # Headers a dependency set on the route's response (the returned response replaces it).
    extra = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JsonBody(body, status_code=status_code, headers={**extra, **headers, consistency.HEADER: token})


def public_body(model: type[BaseModel], result: Any) -> dict[str, Any]:
    """``model``'s JSON body for a handler's result (a dataclass), its consistency token empty. The result's fields are
    handed over as they are, nested dataclasses read by attribute: ``dataclasses.asdict`` deep-copied every value
    first, at five times the cost of the validation itself."""
    row: dict[str, Any] = {name: getattr(result, name) for name in _field_names(type(result))}
    row["consistency_token"] = ""
    return model.model_validate(row, from_attributes=True).model_dump(mode="json")


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(result_type: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(result_type)
    if names is None:
        names = _FIELD_NAMES[result_type] = tuple(f.name for f in fields(result_type))
    return names
