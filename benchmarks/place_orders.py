"""Order-placing throughput of the command API: C concurrent clients place orders for D seconds.

Each order reserves 1-2 units of 1-3 meals at one of L online fridges stocked far beyond demand, so
every order succeeds and the figure is the cost of the real transaction (location and meal checks,
row-locked reservations, order and lines inserted, consistency token).

    .venv/bin/python -m benchmarks.place_orders --clients 16 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.identity import Login, issue_token


def bench_location() -> dict[str, object]:
    """A new online fridge for a benchmark's stock (a unique code each call)."""
    return {
        "code": f"BENCH-{uuid.uuid4().hex[:10].upper()}",
        "name": "Bench Fridge",
        "kind": "smart_fridge",
        "status": "online",
        "city": "Benchville",
        "latitude": 40.0,
        "longitude": -89.0,
    }


async def setup(http: httpx.AsyncClient, meals: int, locations: int) -> tuple[list[str], list[str]]:
    meal_ids, loc_ids = [], []
    for i in range(meals):
        r = await http.post("/catalog/meals", json={"name": f"Bench Meal {i}", "calories": 500, "price_cents": 1000})
        meal_ids.append(r.raise_for_status().json()["id"])
        (await http.post(f"/catalog/meals/{meal_ids[-1]}/publish")).raise_for_status()
    for _ in range(locations):
        r = await http.post(
            "/locations",
            json=bench_location(),
        )
        loc_ids.append(r.raise_for_status().json()["id"])
        for meal in meal_ids:
            (
                await http.post(
                    "/inventory/adjustments",
                    json={"location_id": loc_ids[-1], "meal_id": meal, "delta": 10_000, "reason": "replenish"},
                )
            ).raise_for_status()
    return meal_ids, loc_ids


async def client(
    http: httpx.AsyncClient,
    customer: str,
    meals: list[str],
    locs: list[str],
    until: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    rnd = random.Random(customer)
    while time.perf_counter() < until:
        now = datetime.now(UTC)
        chosen = rnd.sample(meals, rnd.randint(1, min(3, len(meals))))
        body = {
            "customer_id": customer,
            "location_id": rnd.choice(locs),
            "pickup_from": (now + timedelta(hours=1)).isoformat(),
            "pickup_until": (now + timedelta(hours=2)).isoformat(),
            "lines": [{"meal_id": m, "quantity": rnd.randint(1, 2)} for m in chosen],
        }
        started = time.perf_counter()
        r = await http.post("/orders", json=body)
        if r.status_code == 201:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            errors.append(r.status_code)


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    token = issue_token(settings, Login(Role.ADMIN, "bench"))
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.command_port}",
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=args.clients + 4),
    ) as http:
        meals, locs = await setup(http, args.meals, args.locations)
        customers = []
        for i in range(args.clients):
            r = await http.post(
                "/customers", json={"email": f"bench-{uuid.uuid4().hex[:12]}@example.com", "name": f"Bench {i}"}
            )
            customers.append(r.raise_for_status().json()["id"])
        latencies: list[float] = []
        errors: list[int] = []
        started = time.perf_counter()
        until = started + args.seconds
        await asyncio.gather(*(client(http, c, meals, locs, until, latencies, errors) for c in customers))
        elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[max(0, round(0.99 * len(latencies)) - 1)]
    print(
        f"clients={args.clients} seconds={elapsed:.1f} orders={len(latencies)} errors={len(errors)} "
        f"throughput={len(latencies) / elapsed:.1f} orders/s  latency ms: median {statistics.median(latencies):.1f} "
        f"p99 {p99:.1f} max {latencies[-1]:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--meals", type=int, default=5)
    parser.add_argument("--locations", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
