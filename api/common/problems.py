"""RFC 9457 problem details for every error the APIs return (application/problem+json)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from farmacy import consistency
from farmacy import errors as e

PROBLEM = "application/problem+json"
TYPE_BASE = "https://farmacy.food/problems/"

STATUS: dict[type[e.DomainError], int] = {
    e.NotFound: 404,
    e.ReferenceNotFound: 422,
    e.InvalidInput: 422,
    e.Conflict: 409,
    e.VersionMismatch: 412,
    e.PreconditionRequired: 428,
    e.Forbidden: 403,
}


class FieldProblem(BaseModel):
    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` names each offending field and the rule it breaks."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] = []


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None,
    request: Request,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "errors": errors or [],
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def register_status(error: type[e.DomainError], status: int) -> None:
    """Maps an error class defined by one API (not the domain) to its HTTP status."""
    STATUS[error] = status


def status_of(exc: e.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.DomainError)
    errors = [{"field": exc.field, "rule": exc.rule or exc.detail, "message": exc.detail}] if exc.field else []
    status = status_of(exc)
    headers = {"Retry-After": str(exc.extra["retry_after_s"])} if "retry_after_s" in exc.extra else None
    return problem_response(status, exc.code, exc.title, exc.detail, request, errors, headers=headers, **exc.extra)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _loc_to_field(err.get("loc", ())),
            "rule": str(err.get("type", "invalid")),
            "message": str(err.get("msg", "")),
        }
        for err in exc.errors()
    ]
    fields = ", ".join(sorted({x["field"] for x in errors}))
    return problem_response(422, "validation-error", "Request is not valid", f"invalid: {fields}", request, errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        406: "Not acceptable",
        415: "Unsupported media type",
    }
    title = titles.get(exc.status_code, "HTTP error")
    return problem_response(
        exc.status_code,
        title.lower().replace(" ", "-"),
        title,
        str(exc.detail),
        request,
        headers=dict(exc.headers or {}),
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(e.DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM: {}}, "description": desc}
    for code, desc in {
        401: "Missing or invalid bearer token",
        403: "Role not allowed",
        404: "Not found",
        409: "Conflicts with the current state",
        412: "Stale version (If-Match)",
        422: "Invalid input: the errors name each field and rule",
        428: "If-Match required",
    }.items()
}


def _described(code: int, desc: str) -> dict[str, Any]:
    return {"model": Problem, "content": {PROBLEM: {}}, "description": desc}


QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described(401, "Missing or invalid bearer token"),
    404: _described(404, "Not in the view"),
    422: _described(422, "Invalid input: the errors name each field and rule"),
    503: {
        **_described(503, f"The view has not applied the {consistency.HEADER} within the bound, or is unreachable"),
        "headers": {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}},
    },
}


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    import psycopg
    import structlog
    from elasticsearch import ApiError, BadRequestError, TransportError
    from psycopg_pool import PoolTimeout

    if isinstance(exc, TransportError) or (isinstance(exc, ApiError) and exc.meta.status in (429, 503)):
        # Unreachable, timing out, or answering that it cannot serve yet (starting, no shard available).
        structlog.get_logger("http").warning("view store unavailable", path=request.url.path, error=str(exc)[:200])
        return problem_response(
            503,
            "view-store-unavailable",
            "The view store is unavailable",
            "retry shortly",
            request,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, psycopg.OperationalError | PoolTimeout):
        # The master is restarting or unreachable: the command's transaction did not commit (an Idempotency-Key
        # makes the retry safe even when the connection broke during COMMIT).
        structlog.get_logger("http").warning("master unavailable", path=request.url.path, error=str(exc)[:200])
        return problem_response(
            503,
            "master-unavailable",
            "The database is unavailable",
            "retry shortly (with the same Idempotency-Key)",
            request,
            headers={"Retry-After": "1"},
        )

    if isinstance(exc, BadRequestError):  # parameters our validation let through but the view store refuses
        structlog.get_logger("http").warning("view store refused the query", path=request.url.path, error=str(exc))
        return problem_response(
            422,
            "invalid-input",
            "Request cannot be answered",
            "these parameters cannot be answered by the view",
            request,
        )
    structlog.get_logger("http").error("unhandled error", path=request.url.path, exc_info=exc)
    return problem_response(500, "internal-error", "Internal error", "the error was logged", request)


def install_fallback_handler(app: FastAPI) -> None:
    """Anything unexpected still answers problem+json (and is logged), never a bare text 500.

    The engines' errors are registered by class as well: Starlette hands a handler of ``Exception`` the error
    only after the response has started and then re-raises it, so the server logs a traceback and drops the
    keep-alive connection. A handler of a class answers normally, with the connection kept."""
    import psycopg
    from elasticsearch import ApiError, TransportError
    from psycopg_pool import PoolTimeout

    for cls in (TransportError, ApiError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(cls, _unhandled)
    app.add_exception_handler(Exception, _unhandled)
