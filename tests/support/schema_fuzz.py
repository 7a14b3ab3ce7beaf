"""Runs schemathesis over every operation of a live OpenAPI schema (without its pytest plugin)."""

from __future__ import annotations

from typing import Any, TypeAlias

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# schemathesis leaves the parameters of an operation generic open in its own signatures (a bare `Case`).
FuzzCase: TypeAlias = schemathesis.Case[schemathesis.APIOperation[Any, Any, Any, Any]]


def fuzz_api(base_url: str, headers: dict[str, str], max_examples: int = 25, read_only: bool = False) -> dict[str, str]:
    """Returns {operation: failure} for every operation that answered 5xx or broke its own schema. ``read_only``:
    GET operations only (an API whose other operations act on the running stack: pause, replay, rebuild)."""
    loaded = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schema = loaded.include(method="GET") if read_only else loaded
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        if isinstance(result, Err):
            failures[result.err().label] = f"invalid schema: {result.err().message[:1500]}"
            continue
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def exercise(case: FuzzCase) -> None:
            case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert operations > 0, "the schema has no operations"
    return failures
