"""schemathesis against the command API's own OpenAPI: no 5xx, and every response matches its schema."""

from __future__ import annotations

import pytest

from farmacy.settings import Settings
from tests.support.schema_fuzz import fuzz_api

pytestmark = pytest.mark.integration


def test_command_api_never_fails_with_5xx_or_breaks_its_schema(stack: Settings, admin_token: str) -> None:
    failures = fuzz_api(f"http://127.0.0.1:{stack.command_port}", {"Authorization": f"Bearer {admin_token}"})
    assert failures == {}, "\n\n".join(f"{op}:\n{err}" for op, err in failures.items())
