"""Fault: PostgreSQL restarts under writes. The command API answers 503 with Retry-After while the master is away
(never a 500 or a dropped connection), capture and sync resume by themselves, and nothing drifts."""

from __future__ import annotations

import time

import httpx
import pytest

from farmacy.settings import Settings
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor
from tests.faults.support import dead_letter_counts, drift
from tests.support.commands import active_meal, client, stocked_location
from tests.support.supervisor_log import ExitWatch
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults

DOWN_S = 5.0


def test_master_restart_is_503_then_everything_resumes(stack: Settings, admin_token: str, exits: ExitWatch) -> None:
    exits.expect("postgres")
    sup = Supervisor(layout_for(stack))
    es = es_client(stack)
    dead_before = dead_letter_counts(stack)
    codes: dict[int, int] = {}
    with client(stack, admin_token) as admin:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 1})
        body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 1, "reason": "replenish"}
        sup.stop("postgres")
        try:
            until = time.monotonic() + DOWN_S
            while time.monotonic() < until:
                try:
                    r = admin.post("/inventory/adjustments", json=body)
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1
                    if r.status_code == 503:
                        assert r.headers["Retry-After"] and r.headers["content-type"] == "application/problem+json"
                except httpx.HTTPError:
                    codes[0] = codes.get(0, 0) + 1
                time.sleep(0.2)
        finally:
            sup.start("postgres")
        back_at = time.monotonic()

        def accepted() -> bool:
            return admin.post("/inventory/adjustments", json=body).status_code == 201

        wait_until(accepted, 60, "the command API to accept writes again", interval=0.5)
        writable_s = time.monotonic() - back_at
        wait_applied(es, stack, current_lsn(stack), list(stack.views), timeout=180)
        fresh_s = time.monotonic() - back_at
    print(
        f"\npostgres restart: answers while down {codes}; writable {writable_s:.1f}s, views fresh {fresh_s:.1f}s after"
    )
    assert set(codes) <= {201, 503}, f"while the master was away: {codes}"
    assert codes.get(503, 0) > 0
    assert dead_letter_counts(stack) == dead_before
    assert drift(stack, es) == dict.fromkeys(stack.views, 0)
    es.close()
