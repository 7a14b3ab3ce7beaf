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


def verify(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "role"]}
        )
        role = Role(claims["role"])
        customer_id = UUID(claims["customer_id"]) if claims.get("customer_id") else None
    except (jwt.PyJWTError, ValueError, KeyError) as exc:
        raise InvalidToken(str(exc)) from exc
    if role is Role.CUSTOMER and customer_id is None:
        raise InvalidToken("customer token without customer_id")
    return Principal(subject=str(claims["sub"]), role=role, customer_id=customer_id)
