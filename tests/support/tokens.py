"""Bearer tokens for the tests on the stack: issued by the stack's identity provider (stack/identity.py), one per
principal, reused for the session (they live an hour); and tokens the APIs must refuse."""

from __future__ import annotations

import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from farmacy.auth import Role, mint
from farmacy.settings import Settings
from stack.identity import Login, issue_token, signing_key, signing_keys

_issued: dict[tuple[str, Role, str, uuid.UUID | None], str] = {}


def provider_token(settings: Settings, role: Role, subject: str, customer_id: uuid.UUID | str | None = None) -> str:
    cid = uuid.UUID(str(customer_id)) if customer_id is not None else None
    key = (settings.oidc_issuer, role, subject, cid)
    if key not in _issued:
        _issued[key] = issue_token(settings, Login(role, subject, cid))
    return _issued[key]


def _claims(settings: Settings, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.oidc_issuer,
        "aud": [settings.oidc_audience],
        "sub": "test-admin",
        "role": Role.ADMIN.value,
        "iat": now,
        "exp": now + 600,
    }
    return {**claims, **overrides}


def bad_token(settings: Settings, kind: str) -> str:
    """A token the APIs must refuse. Those whose claims are wrong are signed with the provider's own current key
    (from its admin API), so the claim is what they fail on, not the signature."""
    if kind == "garbage":
        return "garbage"
    if kind == "three-dots":
        return "not.a.jwt"
    if kind == "hs256":  # the development option, off on the stack
        return mint(settings.jwt_secret.get_secret_value(), "test-admin", Role.ADMIN)
    current = signing_keys(settings)[0]
    if kind in ("forged", "unknown-key"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = current if kind == "forged" else f"unknown-{uuid.uuid4().hex[:8]}"
        return jwt.encode(_claims(settings), key, algorithm="RS256", headers={"kid": kid})
    now = int(time.time())
    table: dict[str, dict[str, object]] = {
        "expired": {"exp": now - 600, "iat": now - 1200},
        "not-yet-valid": {"nbf": now + 600},
        "wrong-audience": {"aud": ["another-api"]},
        "wrong-issuer": {"iss": "http://127.0.0.1:1/"},
        "customer-without-id": {"role": Role.CUSTOMER.value},
    }
    overrides = table[kind]
    private = jwt.PyJWK(signing_key(settings, current))
    return jwt.encode(
        _claims(settings, **overrides), private, algorithm=private.algorithm_name, headers={"kid": current}
    )


BAD_TOKENS = [
    "garbage",
    "three-dots",
    "hs256",
    "forged",
    "unknown-key",
    "expired",
    "not-yet-valid",
    "wrong-audience",
    "wrong-issuer",
    "customer-without-id",
]
