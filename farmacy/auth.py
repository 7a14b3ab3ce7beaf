"""Bearer JWTs: roles customer, admin, operator.

Tokens come from an OpenID Connect provider (the local stack runs Ory Hydra; a deployment points at its own):
signed with the provider's keys (RS256 / ES256) and verified against the keys it publishes (its JWKS), with the
issuer, the audience, expiry and not-before checked (``OidcVerifier``). HS256 tokens signed with one shared secret
(``mint`` / ``verify``) remain a development option, off unless ``FARMACY_AUTH_HS256`` turns it on and refused in
production; the ops console's session cookie is such a token under a key of the console's own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

import jwt
from jwt import PyJWKClient

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


class KeysUnavailable(Exception):
    """The provider's keys could not be fetched to check a token signed with a key not known yet (an outage: the
    client may retry, the token is not known to be bad)."""


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Principal: ...


def mint(secret: str, subject: str, role: Role, customer_id: UUID | None = None, ttl_s: int = 3600) -> str:
    now = int(time.time())
    claims: dict[str, object] = {"iss": ISSUER, "sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
    if customer_id is not None:
        claims["customer_id"] = str(customer_id)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


VERIFIED_CACHE_SIZE = 4096
_verified: dict[tuple[str, str], tuple[Principal, float]] = {}


def verify(secret: str, token: str) -> Principal:
    """The HS256 token's principal. A token verified once is not verified again until it expires: clients send the
    same token with every request, and the signature check and claim validation were a tenth of a command's CPU."""
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
        expires = float(claims["exp"])
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    principal = principal_from_claims(claims, ClaimNames())
    if len(_verified) >= VERIFIED_CACHE_SIZE:
        _verified.clear()
    _verified[(secret, token)] = (principal, expires)
    return principal


@dataclass(frozen=True)
class ClaimNames:
    """Where a provider puts the role and the customer id: a claim name, or a dotted path into nested claims
    (e.g. ``realm_access.roles``). A role claim may hold one role or a list (the first one we know counts)."""

    role: str = "role"
    customer_id: str = "customer_id"


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def principal_from_claims(claims: Mapping[str, Any], names: ClaimNames) -> Principal:
    raw_role = _claim(claims, names.role)
    candidates = raw_role if isinstance(raw_role, list) else [raw_role]
    role = next((Role(r) for r in candidates if isinstance(r, str) and r in Role.__members__.values()), None)
    if role is None:
        raise InvalidToken(f"no known role in claim {names.role!r} (one of {[r.value for r in Role]})")
    raw_customer = _claim(claims, names.customer_id)
    try:
        customer_id = UUID(str(raw_customer)) if raw_customer else None
    except ValueError as exc:
        raise InvalidToken(f"claim {names.customer_id!r} is not a UUID") from exc
    if role is Role.CUSTOMER and customer_id is None:
        raise InvalidToken(f"customer token without {names.customer_id}")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("token without a subject")
    return Principal(subject=subject, role=role, customer_id=customer_id)


class HmacVerifier:
    """HS256 tokens signed with one shared secret (development only)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def verify(self, token: str) -> Principal:
        return verify(self._secret, token)


class OidcVerifier:
    """Tokens of one OpenID Connect issuer, checked against the keys it publishes at ``jwks_url``.

    The key set is cached for ``jwks_max_age_s``; a token signed with a key not in it makes the set be fetched again
    at once (a rotation at the provider is picked up without a restart), at most once per ``jwks_min_refresh_s`` (a
    stream of forged key ids cannot turn into a stream of requests to the provider). A token verified once is
    remembered until it expires, as long as its key is still published: a key removed at the provider stops its
    tokens once the key set has been fetched again."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        claims: ClaimNames = ClaimNames(),
        leeway_s: float = 30.0,
        jwks_max_age_s: float = 60.0,
        jwks_min_refresh_s: float = 5.0,
        keys: PyJWKClient | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.algorithms = list(algorithms)
        self.claims = claims
        self.leeway_s = leeway_s
        self._keys = keys or PyJWKClient(
            jwks_url, lifespan=jwks_max_age_s, cooldown_duration=jwks_min_refresh_s, timeout=5
        )
        self._verified: dict[str, tuple[Principal, float, str]] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None:
            principal, expires, kid = known
            if time.time() < expires + self.leeway_s and self._published(kid):
                return principal
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
            alg, key_id = header.get("alg"), header.get("kid")
            if alg not in self.algorithms:
                raise InvalidToken(f"algorithm {alg!r} is not accepted (one of {self.algorithms})")
            if not isinstance(key_id, str):
                raise InvalidToken("token header names no key (kid)")
            key = self._keys.get_signing_key(key_id)
            claims = jwt.decode(
                token,
                key,
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable(f"the identity provider's keys could not be fetched: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        principal = principal_from_claims(claims, self.claims)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (principal, float(claims["exp"]), key_id)
        return principal

    def remembers(self, token: str) -> bool:
        """Whether ``token`` was verified before (``verify`` still checks its expiry and its key)."""
        return token in self._verified

    def _published(self, kid: str) -> bool:
        try:
            keys = self._keys.get_jwk_set()
        except jwt.PyJWKClientError:
            return True  # the provider is away: a token verified before stays good until it expires
        return any(k.key_id == kid for k in keys.keys)


class Verifiers:
    """Routes a token to the verifier of its algorithm: HS256 to the shared-secret one when it is enabled, any
    other to the OpenID Connect issuer's."""

    def __init__(self, oidc: TokenVerifier | None, hmac: TokenVerifier | None) -> None:
        self._oidc = oidc
        self._hmac = hmac

    def verify(self, token: str) -> Principal:
        if isinstance(self._oidc, OidcVerifier) and self._oidc.remembers(token):
            # A token the issuer's verifier has seen: no header to parse again (a request's token is checked by the
            # quotas and by the route's dependencies, and clients send the same token with every request).
            return self._oidc.verify(token)
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        verifier = self._hmac if alg == ALGORITHM else self._oidc
        if verifier is None:
            raise InvalidToken(f"tokens signed with {alg} are not accepted here")
        return verifier.verify(token)
