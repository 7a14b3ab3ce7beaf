"""The command API's OpenAPI is complete: every command with a body has an example, every operation
documents its problem responses, and every POST takes an Idempotency-Key."""

from __future__ import annotations

from typing import Any

import pytest

from api.command.app import create_app
from farmacy.settings import Settings


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m.upper(), p, op)
        for p, item in spec["paths"].items()
        for m, op in item.items()
        if m in ("post", "patch") and p not in ("/health", "/metrics")
    ]


def _schema(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    return dict(spec["components"]["schemas"][ref.rsplit("/", 1)[1]])


def test_every_command_with_a_body_has_an_example(spec: dict[str, Any]) -> None:
    missing = []
    for method, path, op in _operations(spec):
        body = op.get("requestBody")
        if body is None:
            continue
        schema = body["content"]["application/json"]["schema"]
        if "examples" not in _schema(spec, schema["$ref"]):
            missing.append(f"{method} {path}")
    assert missing == []


def test_every_command_documents_problem_responses(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        assert {"401", "409", "422"} <= set(op["responses"]), f"{method} {path}"
        assert "application/problem+json" in op["responses"]["422"]["content"], f"{method} {path}"


def test_every_post_accepts_an_idempotency_key(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        if method == "POST":
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert "Idempotency-Key" in headers, path


def test_every_patch_takes_if_match(spec: dict[str, Any]) -> None:
    for method, path, op in _operations(spec):
        if method == "PATCH":
            headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert "If-Match" in headers, path
