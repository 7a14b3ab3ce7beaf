"""schemathesis against the query API's own OpenAPI: no 5xx, and every response matches its schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.schema_fuzz import fuzz_api

pytestmark = pytest.mark.integration

# Every view has applied WAL position 0/0. The header wins over the consistency_token query parameter, so
# a generated token far ahead of the views (answered, correctly, with 503 view-behind after the bounded
# wait; see tests/e2e/test_query_catalog.py) cannot stall the run. Malformed tokens are covered by
# tests/unit/test_query_http_edge.py.
REACHED = {"X-Consistency-Token": "0/0"}
ES_MAX_OFFSET = timedelta(hours=18)
DATE_FILTERS = ("created_from", "created_to")
COMPLETION_RESERVED = "\x1e\x1f"  # Lucene's completion fields refuse these in any term


def test_query_api_never_fails_with_5xx_or_breaks_its_schema(stack: Settings, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}", **REACHED}
    failures = fuzz_api(f"http://127.0.0.1:{stack.query_port}", headers, max_examples=40)
    assert failures == {}, "\n\n".join(f"{op}:\n{err}" for op, err in failures.items())


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "2026-01-01T00:00:00-19:00"},
        {"created_to": "2026-01-01T00:00:00+18:01"},
        {"created_from": "1272-03-15T01:50:49-23:24"},
    ],
)
def test_order_date_filter_with_any_valid_offset_is_answered(
    stack: Settings, admin_token: str, params: dict[str, str]
) -> None:
    r = httpx.get(
        f"http://127.0.0.1:{stack.query_port}/orders",
        params={**params, "size": 1},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    assert r.status_code in (200, 422), f"{r.status_code}: {r.text}"
    if r.status_code == 422:
        assert r.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in r.json()["errors"]} == set(params)


@pytest.mark.parametrize("prefix", ["\x1f", "\x1e", "gr\x1feen"])
def test_suggest_with_a_reserved_character_is_answered(stack: Settings, prefix: str) -> None:
    r = httpx.get(f"http://127.0.0.1:{stack.query_port}/catalog/suggest", params={"prefix": prefix}, timeout=10)
    assert r.status_code in (200, 422), f"{r.status_code}: {r.text}"
    if r.status_code == 200:
        assert r.json()["suggestions"] == []
    else:
        assert r.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in r.json()["errors"]} == {"prefix"}


def _operations(stack: Settings) -> dict[str, dict[str, Any]]:
    schema = httpx.get(f"http://127.0.0.1:{stack.query_port}/openapi.json", timeout=10).json()
    return {f"GET {path}": ops["get"] for path, ops in schema["paths"].items() if "get" in ops}


def test_every_view_read_takes_a_consistency_token(stack: Settings) -> None:
    views = {
        op: spec
        for op, spec in _operations(stack).items()
        if op.split()[1].split("/")[1] in {"catalog", "inventory", "orders", "subscriptions"}
    }
    assert len(views) >= 8
    without = [
        op
        for op, spec in views.items()
        if op != "GET /catalog/suggest"  # always answers from the view as it is
        and {"X-Consistency-Token", "consistency_token"} - {p["name"] for p in spec.get("parameters", [])}
    ]
    assert without == []


def test_operations_taking_a_consistency_token_document_503(stack: Settings) -> None:
    missing = [
        op
        for op, spec in _operations(stack).items()
        if any(p["name"] == "X-Consistency-Token" for p in spec.get("parameters", []))
        and "503" not in spec["responses"]
    ]
    assert missing == []
