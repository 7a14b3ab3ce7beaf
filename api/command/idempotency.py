"""Idempotent replays: a request reusing the Idempotency-Key of an identical, committed request gets its response."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.common.problems import problem_response
from writemodel.uow import IdempotentReplay, stored_response


async def _replay(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IdempotentReplay)
    settings = request.app.state.settings
    stored = await stored_response(
        request.app.state.pool, exc.claim.principal, exc.claim.key, settings.idempotency_ttl_s
    )
    if stored is None or stored["status_code"] == 0:
        return problem_response(
            409,
            "idempotency-in-doubt",
            "Request with this key is still being processed",
            "retry in a moment",
            request,
            errors=[{"field": "Idempotency-Key", "rule": "first request must finish", "message": "in progress"}],
        )
    if stored["request_hash"] != exc.claim.request_hash:
        return problem_response(
            422,
            "invalid-input",
            "Input breaks a rule",
            "this Idempotency-Key was used with a different request",
            request,
            errors=[
                {
                    "field": "Idempotency-Key",
                    "rule": "must not be reused with a different request",
                    "message": "key reused",
                }
            ],
        )
    headers = {**stored["headers"], "Idempotent-Replayed": "true"}
    return JSONResponse(stored["response"], status_code=stored["status_code"], headers=headers)


def install_replay_handler(app: FastAPI) -> None:
    app.add_exception_handler(IdempotentReplay, _replay)
