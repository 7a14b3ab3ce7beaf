"""FastAPI dependencies shared by the APIs: the principal from the bearer token, role guards."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from farmacy.auth import InvalidToken, Principal, Role, verify

bearer = HTTPBearer(auto_error=False, description="JWT minted by `farmacy token`")


async def current_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if creds is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    try:
        return verify(request.app.state.settings.jwt_secret.get_secret_value(), creds.credentials)
    except InvalidToken as exc:
        raise HTTPException(
            401, f"invalid token: {exc}", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def guard(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            allowed = [r.value for r in roles]
            raise HTTPException(403, f"role '{principal.role}' may not do this; needs one of {allowed}")
        return principal

    return guard


AdminPrincipal = Annotated[Principal, Depends(require(Role.ADMIN))]
CustomerOrAdmin = Annotated[Principal, Depends(require(Role.CUSTOMER, Role.ADMIN))]
