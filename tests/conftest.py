"""Shared fixtures. Integration and e2e tests run on the real engines (see tests/support/stack.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from farmacy.auth import Role
from farmacy.settings import Profile, Settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the cluster profile run only against it: on the single-node stack they are deselected (reported
    as such), never skipped as if they had passed."""
    if Settings().profile is Profile.CLUSTER:
        return
    keep = [item for item in items if item.get_closest_marker("cluster") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("cluster")])
        items[:] = keep


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    from tests.support.stack import running_stack

    with running_stack() as settings:
        yield settings


@pytest.fixture(scope="session")
def admin_token(stack: Settings) -> str:
    from tests.support.tokens import provider_token

    return provider_token(stack, Role.ADMIN, "test-admin")
