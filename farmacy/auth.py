"""Bearer JWTs (HS256, PyJWT): roles customer, admin, operator."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

import jwt

ISSUER = "farmacy"
ALGORITHM = "HS256"


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    customer_id: UUID | None = None


class InvalidToken(Exception):
    pass


def mint(secret: str, subject: str, role: Role, customer_id: UUID | None = None, ttl_s: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"iss": ISSUER, "sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
    if customer_id is not None:
        claims["customer_id"] = str(customer_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


VERIFIED_CACHE_SIZE = 4096
_verified: dict[tuple[str, str], tuple[Principal, float]] = {}


def verify(secret: str, token: str) -> Principal:
    """The token's principal. A token verified once is not verified again until it expires: clients send the same
    token with every request, and the signature check and claim validation were a tenth of a command's CPU."""
    known = _verified.get((secret, token))
    if known is not None:
        principal, expires = known
        if time.time() < expires:
            return principal
        del _verified[(secret, token)]
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "role"]}
        )
        role = Role(claims["role"])
        customer_id = UUID(claims["customer_id"]) if claims.get("customer_id") else None
        expires = float(claims["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if role is Role.CUSTOMER and customer_id is None:
        raise InvalidToken("customer token without customer_id")
    principal = Principal(subject=str(claims["sub"]), role=role, customer_id=customer_id)
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[(secret, token)] = (principal, expires)
    return principal
