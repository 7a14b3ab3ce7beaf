"""Dependencies of the command API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from farmacy.uow import UnitOfWork

CONSISTENCY_HEADER = "X-Consistency-Token"


def unit_of_work(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.pool)


Uow = Annotated[UnitOfWork, Depends(unit_of_work)]


def stamp(response: Response, uow: UnitOfWork) -> str:
    """Puts the commit's WAL position on the response and returns it for the body."""
    token = uow.commit_lsn or ""
    response.headers[CONSISTENCY_HEADER] = token
    return token
