from __future__ import annotations

import time
import uuid

import pytest

from farmacy.auth import InvalidToken, Role, mint, verify

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def test_minted_token_verifies_to_its_principal() -> None:
    cid = uuid.uuid4()
    p = verify(SECRET, mint(SECRET, "ann", Role.CUSTOMER, cid))
    assert (p.subject, p.role, p.customer_id) == ("ann", Role.CUSTOMER, cid)


def test_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, mint("another-secret-another-secret-another", "ann", Role.ADMIN))


def test_expired_token_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, mint(SECRET, "ann", Role.ADMIN, ttl_s=-10))


def test_customer_token_without_customer_id_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, mint(SECRET, "ann", Role.CUSTOMER))


def test_garbage_is_refused() -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, "not.a.jwt")


def test_a_token_verified_before_is_refused_once_it_expires() -> None:
    token = mint(SECRET, "ann", Role.ADMIN, ttl_s=1)
    assert verify(SECRET, token).subject == "ann"  # verified, and remembered until it expires
    assert verify(SECRET, token).subject == "ann"
    time.sleep(2.1)  # exp is in whole seconds
    with pytest.raises(InvalidToken):
        verify(SECRET, token)


def test_a_remembered_token_is_not_valid_under_another_secret() -> None:
    token = mint(SECRET, "ann", Role.ADMIN)
    verify(SECRET, token)
    with pytest.raises(InvalidToken):
        verify("another-secret-another-secret-another", token)
