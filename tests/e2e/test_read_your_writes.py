"""Read-your-writes: a command followed at once by a query carrying its consistency token sees the write,
200 times out of 200 (four clients in parallel, 50 writes each, across three views)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from farmacy.settings import Settings
from tests.support.api import command_client, new_location, new_meal, query_client

pytestmark = pytest.mark.e2e
CLIENTS, WRITES = 4, 50


def _client_run(stack: Settings, token: str, n: int) -> list[str]:
    """Returns a description of every read that did not show its write."""
    misses: list[str] = []
    with command_client(stack, token) as cmd, query_client(stack, token) as query:
        run = uuid.uuid4().hex[:8]
        city = f"RYW-{run}"
        # A name of this run's own: meals of earlier runs on the same stack must not crowd it out of the first page.
        name = f"RYW {run} {n}"
        meal, loc = new_meal(cmd, name=name), new_location(cmd, city=city)
        assert cmd.post(f"/catalog/meals/{meal['id']}/publish").status_code == 200
        etag = '"2"'
        on_hand = 0
        for i in range(WRITES):
            kind = i % 3
            if kind == 0:  # stock -> inventory view
                on_hand += 2
                r = cmd.post(
                    "/inventory/adjustments",
                    json={"location_id": loc["id"], "meal_id": meal["id"], "delta": 2, "reason": "replenish"},
                )
                got = _get(query, f"/inventory/locations/{loc['id']}", r)
                seen = next((s["on_hand"] for s in got["stock"] if s["meal_id"] == meal["id"]), None) if got else None
                expected: Any = on_hand
            elif kind == 1:  # price -> catalog view (search, not a realtime get)
                r = cmd.patch(
                    f"/catalog/meals/{meal['id']}", json={"price_cents": 1000 + i}, headers={"If-Match": etag}
                )
                etag = r.headers["ETag"]
                got = _get(query, "/catalog/meals", r, params={"q": name, "size": 5})
                seen = (
                    next((m["price_cents"] for m in got["items"] if m["meal_id"] == meal["id"]), None) if got else None
                )
                expected = 1000 + i
            else:  # location rename -> inventory view, by search
                r = cmd.patch(
                    f"/locations/{loc['id']}",
                    json={"name": f"RYW loc {i}"},
                    headers={"If-Match": loc.get("etag", '"1"')},
                )
                loc["etag"] = r.headers["ETag"]
                got = _get(query, "/inventory/locations", r, params={"city": city})
                seen = next((x["name"] for x in got["items"] if x["location_id"] == loc["id"]), None) if got else None
                expected = f"RYW loc {i}"
            assert r.status_code in (200, 201), r.text
            if seen != expected:
                misses.append(f"client {n} write {i}: expected {expected!r}, read {seen!r}")
    return misses


def _get(query: httpx.Client, path: str, write: httpx.Response, params: dict[str, Any] | None = None) -> Any:
    resp = query.get(path, params=params, headers={"X-Consistency-Token": write.headers["X-Consistency-Token"]})
    return resp.json() if resp.status_code == 200 else None


def test_200_writes_are_each_read_back_at_once_with_their_token(stack: Settings, admin_token: str) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: _client_run(stack, admin_token, n), range(CLIENTS)))
    misses = [m for r in results for m in r]
    print(f"\nread-your-writes: {CLIENTS * WRITES - len(misses)}/{CLIENTS * WRITES}")
    assert misses == []
