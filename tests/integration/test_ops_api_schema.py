"""schemathesis against the ops API's own OpenAPI, its read operations only: no 5xx, and every response matches
its schema. Its other operations act on the running stack (pause the connector, replay, rebuild, discard dead
letters); random inputs there would disturb every test after this one, so their rules are tested one by one."""

from __future__ import annotations

import pytest

from farmacy.auth import Role
from farmacy.settings import Settings
from tests.support.schema_fuzz import fuzz_api
from tests.support.tokens import provider_token

pytestmark = pytest.mark.integration


def test_ops_api_reads_never_fail_with_5xx_or_break_their_schema(stack: Settings) -> None:
    operator = provider_token(stack, Role.OPERATOR, "schema-fuzz")
    failures = fuzz_api(
        f"http://127.0.0.1:{stack.ops_port}", {"Authorization": f"Bearer {operator}"}, max_examples=15, read_only=True
    )
    assert failures == {}, "\n\n".join(f"{op}:\n{err}" for op, err in failures.items())
