"""Fixtures shared by the command-side integration tests: HTTP clients for an admin and a fresh customer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.commands import client, customer_token, register_customer


@pytest.fixture
def admin(stack: Settings, admin_token: str) -> Iterator[httpx.Client]:
    with client(stack, admin_token) as http:
        yield http


@pytest.fixture
def customer(stack: Settings) -> dict[str, Any]:
    return register_customer(stack)


@pytest.fixture
def as_customer(stack: Settings, customer: dict[str, Any]) -> Iterator[httpx.Client]:
    with client(stack, customer_token(stack, customer["id"])) as http:
        yield http
