"""Assertions on refused commands: the error type, the field to blame and the rule it broke."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from farmacy.errors import DomainError
from tests.unit.writemodel.fakes import FakeUnitOfWork, run


def refused(
    kind: type[DomainError],
    command: Callable[[], Coroutine[Any, Any, Any]],
    field: str | None,
    rule: str | None = None,
    uow: FakeUnitOfWork | None = None,
) -> DomainError:
    """Runs the command and checks it raised ``kind`` naming ``field`` (and ``rule`` when given). With the
    unit of work, also checks that nothing was committed after the refusal."""
    store_before = uow.store.copy() if uow is not None else None
    commits = uow.commits if uow is not None else 0
    with pytest.raises(kind) as info:
        run(command())
    error = info.value
    assert type(error) is kind, f"{type(error).__name__} is not {kind.__name__}"
    assert error.field == field
    if rule is not None:
        assert error.rule is not None and rule in error.rule, error.rule
    if uow is not None:
        assert uow.commits == commits
        assert uow.store == store_before, "a refused command changed the store"
    return error
