"""Write-to-read lag: post N stock adjustments to the command API, one at a time, and measure how long
each takes to show up, with its exact on_hand, in the query API.

    .venv/bin/python -m benchmarks.write_to_read_lag --count 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.api_clients import command_client, new_location, new_meal, query_client
from stack.identity import Login, issue_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    settings = Settings()
    token = issue_token(settings, Login(Role.ADMIN, "bench"))
    lags: list[float] = []
    with command_client(settings, token) as cmd, query_client(settings, token) as query:
        meal, loc = new_meal(cmd, name="Lag Probe"), new_location(cmd)
        on_hand = 0
        for i in range(args.count):
            delta = 1 + i % 5
            on_hand += delta
            started = time.perf_counter()
            cmd.post(
                "/inventory/adjustments",
                json={"location_id": loc["id"], "meal_id": meal["id"], "delta": delta, "reason": "replenish"},
            ).raise_for_status()
            while True:
                if _on_hand(query, loc["id"], meal["id"]) == on_hand:
                    break
                if time.perf_counter() - started > args.timeout:
                    raise SystemExit(f"adjustment {i} not visible after {args.timeout}s")
                time.sleep(0.005)
            lags.append((time.perf_counter() - started) * 1000)
    lags.sort()
    p95 = lags[max(0, round(0.95 * len(lags)) - 1)]
    print(
        f"adjustments: {len(lags)}  write->read lag ms: median {statistics.median(lags):.0f}  "
        f"p95 {p95:.0f}  max {lags[-1]:.0f}  min {lags[0]:.0f}"
    )


def _on_hand(query: httpx.Client, location_id: str, meal_id: str) -> int | None:
    r = query.get(f"/inventory/locations/{location_id}")
    if r.status_code != 200:
        return None
    item = next((s for s in r.json()["stock"] if s["meal_id"] == meal_id), None)
    return int(item["on_hand"]) if item else None


if __name__ == "__main__":
    main()
