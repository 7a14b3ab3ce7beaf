"""Catalog search latency under concurrent clients, through the query API.

C clients send random catalog searches (text with typos, filters, geo, sorts, facets) for D seconds.

    .venv/bin/python -m benchmarks.search_latency --clients 16 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from typing import Any

import httpx

from benchmarks.generate_dataset import CITIES, TAGS, WORDS
from farmacy.settings import Settings


def typo(word: str, rnd: random.Random) -> str:
    if len(word) < 5 or rnd.random() < 0.5:
        return word
    i = rnd.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def random_search(rnd: random.Random) -> dict[str, Any]:
    params: dict[str, Any] = {"size": 20}
    if rnd.random() < 0.8:
        params["q"] = " ".join(typo(w, rnd) for w in rnd.sample(WORDS, rnd.randint(1, 2)))
    if rnd.random() < 0.3:
        params["dietary_tags"] = rnd.sample(TAGS, 1)
    if rnd.random() < 0.2:
        params["exclude_allergens"] = ["peanuts", "milk"]
    if rnd.random() < 0.2:
        params["price_max"] = rnd.choice([800, 1200, 1600])
    if rnd.random() < 0.4:
        _city, lat, lon = rnd.choice(CITIES)
        params["near"] = f"{lat},{lon}"
        params["radius_km"] = rnd.choice([5, 20, 50])
        if rnd.random() < 0.5:
            params["sort"] = "distance"
    if rnd.random() < 0.3:
        params["available_now"] = "true"
    if "sort" not in params and rnd.random() < 0.3:
        params["sort"] = rnd.choice(["price", "availability"])
    return params


async def client(
    http: httpx.AsyncClient, rnd: random.Random, until: float, lat: list[float], errors: list[int], hits: list[int]
) -> None:
    while time.perf_counter() < until:
        params = random_search(rnd)
        started = time.perf_counter()
        r = await http.get("/catalog/meals", params=params)
        if r.status_code == 200:
            lat.append((time.perf_counter() - started) * 1000)
            hits.append(r.json()["total"])
        else:
            errors.append(r.status_code)


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    latencies: list[float] = []
    errors: list[int] = []
    hits: list[int] = []
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.query_port}",
        timeout=30,
        limits=httpx.Limits(max_connections=args.clients),
    ) as http:
        count = (await http.get("/catalog/meals", params={"size": 1})).json()["total"]
        started = time.perf_counter()
        until = started + args.seconds
        await asyncio.gather(
            *(client(http, random.Random(i), until, latencies, errors, hits) for i in range(args.clients))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()
    print(
        f"catalog of {count} meals; clients={args.clients} searches={len(latencies)} errors={len(errors)} "
        f"throughput={len(latencies) / elapsed:.0f}/s  latency ms: median {statistics.median(latencies):.1f} "
        f"p99 {latencies[max(0, round(0.99 * len(latencies)) - 1)]:.1f} max {latencies[-1]:.1f}; "
        f"median hits {statistics.median(hits):.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    asyncio.run(main(parser.parse_args()))
