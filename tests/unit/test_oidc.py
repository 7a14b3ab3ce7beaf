"""OidcVerifier on keys of the test's own: the claims checked, the key set fetched again for a new key (at most once
per interval), a removed key's tokens refused, roles and customer ids read from configurable claims."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWKClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from farmacy.auth import ClaimNames, HmacVerifier, InvalidToken, OidcVerifier, Role, Verifiers, mint

ISSUER = "https://id.example.test"
AUDIENCE = "farmacy-api"


class Provider(PyJWKClient):
    """The provider's published key set, served from memory; counts how often it was fetched."""

    def __init__(self) -> None:
        super().__init__("https://id.example.test/.well-known/jwks.json", lifespan=60, cooldown_duration=5)
        self.private: dict[str, Any] = {}
        self.fetches = 0

    def add_key(self, kid: str, kind: str = "RSA") -> None:
        self.private[kid] = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if kind == "RSA"
            else ec.generate_private_key(ec.SECP256R1())
        )

    def fetch_data(self) -> Any:
        self.fetches += 1
        keys = []
        for kid, key in self.private.items():
            alg = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
            jwk = json.loads(alg.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig"})
        return {"keys": keys}

    def sign(self, kid: str, **claims: Any) -> str:
        key = self.private[kid]
        alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
        return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": [AUDIENCE], "sub": "ann", "role": "admin", "iat": now}
    base["exp"] = now + 600
    return {**base, **overrides}


@pytest.fixture
def provider() -> Provider:
    p = Provider()
    p.add_key("k1")
    return p


def verifier(provider: Provider, **kwargs: Any) -> OidcVerifier:
    return OidcVerifier(ISSUER, AUDIENCE, "unused", keys=provider, leeway_s=30, **kwargs)


def test_a_token_of_the_issuer_verifies_to_its_principal(provider: Provider) -> None:
    cid = uuid.uuid4()
    token = provider.sign("k1", **claims(role="customer", customer_id=str(cid)))
    p = verifier(provider).verify(token)
    assert (p.subject, p.role, p.customer_id) == ("ann", Role.CUSTOMER, cid)


def test_es256_tokens_verify_too(provider: Provider) -> None:
    provider.add_key("ec1", "EC")
    assert verifier(provider).verify(provider.sign("ec1", **claims())).role is Role.ADMIN


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        # Times relative to the test's own clock (given in seconds from now), not to the collection's.
        ({"exp": -120}, "expired"),
        ({"nbf": +120}, "not yet valid"),
        ({"aud": ["another-api"]}, "(?i)audience"),
        ({"iss": "https://elsewhere.example.test"}, "(?i)issuer"),
        ({"role": "superuser"}, "no known role"),
        ({"role": "customer"}, "customer token without"),
        ({"role": "customer", "customer_id": "not-a-uuid"}, "not a UUID"),
    ],
)
def test_claims_outside_the_rules_are_refused(provider: Provider, overrides: dict[str, Any], error: str) -> None:
    now = int(time.time())
    values = {k: now + v if k in ("exp", "nbf") else v for k, v in overrides.items()}
    with pytest.raises(InvalidToken, match=error):
        verifier(provider).verify(provider.sign("k1", **claims(**values)))


def test_a_small_clock_skew_is_allowed(provider: Provider) -> None:
    now = int(time.time())
    token = provider.sign("k1", **claims(exp=now - 10, nbf=now + 10))
    assert verifier(provider).verify(token).subject == "ann"


def test_a_token_signed_with_another_key_under_the_issuers_kid_is_refused(provider: Provider) -> None:
    forger = Provider()
    forger.add_key("k1")  # the same key id, another key
    with pytest.raises(InvalidToken, match="Signature"):
        verifier(provider).verify(forger.sign("k1", **claims()))


def test_hs256_and_none_are_refused_by_the_issuers_verifier(provider: Provider) -> None:
    hs = jwt.encode(claims(), "a-secret-of-enough-length-for-hs256-0123", algorithm="HS256", headers={"kid": "k1"})
    unsigned = jwt.encode(claims(), "", algorithm="none", headers={"kid": "k1"})
    for token in (hs, unsigned):
        with pytest.raises(InvalidToken, match="not accepted"):
            verifier(provider).verify(token)


def test_a_new_key_is_fetched_when_first_seen_at_most_once_per_interval(provider: Provider) -> None:
    v = verifier(provider)
    v.verify(provider.sign("k1", **claims()))
    assert provider.fetches == 1
    provider.add_key("k2")  # rotated at the provider
    assert v.verify(provider.sign("k2", **claims(sub="bob"))).subject == "bob"
    assert provider.fetches == 2
    forger = Provider()
    for i in range(20):
        forger.add_key(f"forged-{i}", "EC")
    for i in range(20):  # forged key ids: refused without a fetch each (well within the 5 s between fetches)
        with pytest.raises(InvalidToken):
            v.verify(forger.sign(f"forged-{i}", **claims()))
    assert provider.fetches == 2


def test_a_remembered_token_is_refused_once_its_key_is_no_longer_published(provider: Provider) -> None:
    v = verifier(provider)
    token = provider.sign("k1", **claims())
    assert v.verify(token).subject == "ann"  # verified, and remembered
    provider.add_key("k2")
    del provider.private["k1"]
    v.verify(provider.sign("k2", **claims(sub="bob")))  # a token of the new key: the set is fetched again
    with pytest.raises(InvalidToken):
        v.verify(token)


def test_role_and_customer_id_from_configured_nested_claims(provider: Provider) -> None:
    cid = uuid.uuid4()
    names = ClaimNames(role="realm_access.roles", customer_id="farmacy.customer")
    token = provider.sign(
        "k1",
        **claims(role=None, realm_access={"roles": ["offline_access", "customer"]}, farmacy={"customer": str(cid)}),
    )
    p = verifier(provider, claims=names).verify(token)
    assert (p.role, p.customer_id) == (Role.CUSTOMER, cid)


def test_hs256_tokens_need_the_development_verifier(provider: Provider) -> None:
    secret = "unit-test-secret-that-is-long-enough-for-hs256"
    dev = mint(secret, "dev", Role.OPERATOR)
    with pytest.raises(InvalidToken, match="HS256 are not accepted"):
        Verifiers(verifier(provider), None).verify(dev)
    assert Verifiers(verifier(provider), HmacVerifier(secret)).verify(dev).role is Role.OPERATOR
    assert Verifiers(verifier(provider), HmacVerifier(secret)).verify(provider.sign("k1", **claims())).subject == "ann"
