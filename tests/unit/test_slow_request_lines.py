"""Slow requests are logged at a bounded rate (api/common/observability.py): every failure is logged, slow answers
at most SLOW_LINES_PER_S (5) a second per process, and the next line says how many were left out."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from api.common.observability import RequestContext


def test_the_bucket_gives_its_rate_a_second_and_counts_what_it_refuses() -> None:
    context = RequestContext(cast(Any, None), "test", slow_lines_per_s=5.0)
    taken = [context._slow_line(100.0) for _ in range(8)]
    assert taken.count(True) == 5 and context.slow_left_out == 3
    assert context._slow_line(100.2)  # a fifth of a second later: one more
    assert not context._slow_line(100.2)


def test_a_flood_of_slow_answers_writes_a_bounded_number_of_lines_and_failures_are_all_written() -> None:
    app = FastAPI()

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/missing")
    async def missing() -> None:
        from fastapi import HTTPException

        raise HTTPException(404)

    # Every answer counts as slow, and the bucket holds one line and refills after about 11 days.
    app.add_middleware(RequestContext, service="test", log_all_ms=0.0, slow_lines_per_s=1e-6)
    with TestClient(app) as http, capture_logs() as lines:
        for _ in range(40):
            assert http.get("/ok").status_code == 200
        for _ in range(3):
            assert http.get("/missing").status_code == 404
    slow = [x for x in lines if x.get("path") == "/ok"]
    failed = [x for x in lines if x.get("path") == "/missing"]
    assert len(slow) == 1
    assert len(failed) == 3
    # the first line written after refusals says how many slow answers were left out
    assert failed[0]["slow_not_logged"] == 39 and "slow_not_logged" not in failed[1]
