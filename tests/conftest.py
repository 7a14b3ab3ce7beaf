"""Shared fixtures. Integration and e2e tests run on the real engines (see tests/support/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from farmacy.auth import Role, mint
from farmacy.settings import Settings


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    from tests.support.stack import running_stack

    with running_stack() as settings:
        yield settings


@pytest.fixture(scope="session")
def admin_token(stack: Settings) -> str:
    return mint(stack.jwt_secret.get_secret_value(), "test-admin", Role.ADMIN)
