"""What the query API's own Python costs per catalog search, without HTTP and without waiting for Elasticsearch.

The app of ``api.query.app.create_app`` is called directly as an ASGI application with the same 200 searches as
``benchmarks.api_throughput query``, one after the other. Its Elasticsearch reads (api/query/es_reads.py) answer
every search with one real answer fetched from the running Elasticsearch at start, already parsed (so the response
has the real size and shape). Reports
wall time and this process's CPU per search: the middleware, FastAPI's parameter handling and dependencies, the
query builder and the response body. This isolates the API's Python from the network, uvicorn and Elasticsearch.

    .venv/bin/python -m benchmarks.query_inprocess --searches 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import Counter
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlencode

import httpx

from api.query.app import create_app
from api.query.catalog_query import build_search
from api.query.json_bodies import CATALOG_SOURCE
from benchmarks.api_throughput import as_search
from benchmarks.search_latency import random_search
from farmacy.logs import configure_logging
from farmacy.settings import Settings


async def measure(args: argparse.Namespace) -> None:
    # Every search comes from one address, thousands a second: the address quota (api/common/quotas.py) would answer
    # most of them 429 after its burst, a far cheaper path than a search. Raised here out of the way.
    settings = Settings(quota_address_rate=1e9, quota_address_burst=10**9)
    configure_logging(settings.log_format, settings.log_level)
    rnd = random.Random(args.seed)
    searches = [random_search(rnd) for _ in range(200)]
    paths = ["/catalog/meals?" + urlencode(p, doseq=True) for p in searches]
    answer: dict[str, Any] = (
        httpx.post(
            f"{settings.elasticsearch_url.rstrip('/')}/catalog/_search",
            json=build_search(as_search({"q": "salad", "size": 20}), CATALOG_SOURCE),
            timeout=30,
        )
        .raise_for_status()
        .json()
    )
    app = create_app(settings)

    async def canned_search(*_a: Any, **_kw: Any) -> dict[str, Any]:
        return answer

    app.state.reads.search = canned_search

    async def call(path: str) -> int:
        route, _, query = path.partition("?")
        status = 0
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": route,
            "raw_path": route.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"bench")],
            "client": ("127.0.0.1", 1),
            "server": ("bench", 80),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    wall_us: list[float] = []
    cpu_us: list[float] = []
    async with app.router.lifespan_context(app):
        for path in paths:  # warm-up; every search must be answered 200
            assert await call(path) == 200, path
        for rnd_no in range(args.rounds):
            cpu0, t0 = time.process_time(), time.perf_counter()
            statuses = Counter([await call(paths[i % len(paths)]) for i in range(args.searches)])
            wall_us.append((time.perf_counter() - t0) * 1e6 / args.searches)
            cpu_us.append((time.process_time() - cpu0) * 1e6 / args.searches)
            print(f"round {rnd_no + 1}: {wall_us[-1]:.0f} us wall, {cpu_us[-1]:.0f} us CPU per search", flush=True)
            # A round is a figure for searches only if every one was answered 200.
            assert statuses == Counter({200: args.searches}), f"round {rnd_no + 1} answered {dict(statuses)}"
    print(
        f"median: {statistics.median(wall_us):.0f} us wall ({min(wall_us):.0f}-{max(wall_us):.0f}), "
        f"{statistics.median(cpu_us):.0f} us CPU ({min(cpu_us):.0f}-{max(cpu_us):.0f}) per search"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=2000, help="searches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
