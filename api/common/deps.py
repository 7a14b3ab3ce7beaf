"""FastAPI dependencies shared by the APIs: the principal from the bearer token, role guards."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from farmacy.auth import (
    ClaimNames,
    HmacVerifier,
    InvalidToken,
    KeysUnavailable,
    OidcVerifier,
    Principal,
    Role,
    TokenVerifier,
    Verifiers,
)
from farmacy.settings import Settings

bearer = HTTPBearer(
    auto_error=False, description="Access token (JWT) of the identity provider; locally: `farmacy token --role ...`"
)


def build_verifier(settings: Settings) -> TokenVerifier:
    oidc = OidcVerifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url,
        algorithms=settings.oidc_algorithms,
        claims=ClaimNames(role=settings.oidc_role_claim, customer_id=settings.oidc_customer_id_claim),
        leeway_s=settings.oidc_leeway_s,
        jwks_max_age_s=settings.oidc_jwks_max_age_s,
        jwks_min_refresh_s=settings.oidc_jwks_min_refresh_s,
    )
    hmac = HmacVerifier(settings.jwt_secret.get_secret_value()) if settings.auth_hs256 else None
    return Verifiers(oidc, hmac)


def token_verifier(app: FastAPI) -> TokenVerifier:
    """The app's verifier, built from its settings on first use (it holds the provider's cached keys)."""
    verifier: TokenVerifier | None = getattr(app.state, "token_verifier", None)
    if verifier is None:
        verifier = app.state.token_verifier = build_verifier(app.state.settings)
    return verifier


def principal_of(app: FastAPI, token: str) -> Principal:
    """The token's principal; HTTP 401 for a bad token, 503 when the provider's keys cannot be fetched."""
    try:
        return token_verifier(app).verify(token)
    except InvalidToken as exc:
        raise HTTPException(
            401, f"invalid token: {exc}", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from exc
    except KeysUnavailable as exc:
        raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from exc


async def current_principal(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if creds is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return principal_of(request.app, creds.credentials)


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
