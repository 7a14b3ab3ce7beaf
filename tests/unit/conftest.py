"""Fixtures shared by the unit tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from their defaults only: no FARMACY_* variable of the caller's shell leaks in."""
    for name in list(os.environ):
        if name.startswith("FARMACY_"):
            monkeypatch.delenv(name)
