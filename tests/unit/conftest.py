"""Fixtures shared by the unit tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from their defaults only: no FARMACY_* variable of the caller's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("FARMACY_"):
            monkeypatch.delenv(name)


@pytest.fixture
def rebuild_collaborators(monkeypatch: pytest.MonkeyPatch) -> None:
    """`farmacy rebuild` without a stack: no connection pool, no pause of the workers (a test stubs the rebuild
    itself)."""

    @contextlib.contextmanager
    def read_pool(*_args: Any, **_kwargs: Any) -> Iterator[None]:
        yield None

    monkeypatch.setattr("sinks.bootstrap.read_pool", read_pool)

    class NoPause:
        def __init__(self, *_args: Any) -> None:
            self.pause = self.resume = lambda: None

    monkeypatch.setattr("ops.control.WorkersPause", NoPause)
