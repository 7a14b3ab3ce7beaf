"""The client side of one catalog search: CPU this process spends per `_search` request to Elasticsearch, four ways.

- ``elasticsearch-py``: ``AsyncElasticsearch.search`` with the orjson serializer, as the query API calls it;
- ``transport node``: the client's own aiohttp node, ``node.perform_request``, and orjson on the raw answer
  (what is left without the client's request handling and elastic_transport's retries, serializers and tracing);
- ``aiohttp``: a plain ``aiohttp.ClientSession`` POST and orjson;
- ``query API reads``: ``Reads.search`` of the query API (api/query/es_reads.py): one write per request on its own
  keep-alive connections (api/query/es_http.py), the answer parsed by httptools, then orjson.

The same 200 searches as ``benchmarks.api_throughput query`` (identical bodies), ``--concurrency`` in flight, on
uvloop as the APIs run, the four ways interleaved for ``--rounds`` rounds. CPU is this process's
(``time.process_time``): it is what one search costs a query API process on top of uvicorn, FastAPI and the response
it builds.

    .venv/bin/python -m benchmarks.es_client_cost --searches 600 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, cast

import aiohttp
import orjson
import uvloop
from elastic_transport import BaseAsyncNode, HttpHeaders
from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from api.query.catalog_query import build_search
from api.query.es_reads import Reads
from api.query.json_bodies import CATALOG_SOURCE
from benchmarks.api_throughput import as_search
from benchmarks.search_latency import random_search
from farmacy.settings import Settings

Search = Callable[[dict[str, Any]], Awaitable[Any]]


async def measure(args: argparse.Namespace) -> None:
    settings = Settings()
    url = settings.elasticsearch_url.rstrip("/")
    rnd = random.Random(args.seed)
    bodies = [build_search(as_search(random_search(rnd)), CATALOG_SOURCE) for _ in range(200)]
    es = AsyncElasticsearch(url, serializer=OrjsonSerializer(), connections_per_node=64)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
    node = cast(BaseAsyncNode, es.transport.node_pool.get())
    gate = asyncio.Semaphore(args.concurrency)
    headers = HttpHeaders({"content-type": "application/json", "accept": "application/json"})

    async def client(body: dict[str, Any]) -> Any:
        async with gate:
            return await es.search(index="catalog", body=body)

    async def transport_node(body: dict[str, Any]) -> Any:
        async with gate:
            _meta, raw = await node.perform_request(
                "POST", "/catalog/_search", body=orjson.dumps(body), headers=headers
            )
            return orjson.loads(raw)

    async def plain(body: dict[str, Any]) -> Any:
        async with gate, session.post(f"{url}/catalog/_search", data=orjson.dumps(body), headers=headers) as resp:
            return orjson.loads(await resp.read())

    reads = Reads(es, max_retries=0, timeout_s=settings.api_es_timeout_s)

    async def query_api_reads(body: dict[str, Any]) -> Any:
        async with gate:
            return await reads.search("catalog", body)

    ways: dict[str, Search] = {
        "elasticsearch-py": client,
        "transport node": transport_node,
        "aiohttp": plain,
        "query API reads": query_api_reads,
    }
    cpu_ms: dict[str, list[float]] = defaultdict(list)
    try:
        for fn in ways.values():  # warm every connection pool and the JIT of the engine
            await asyncio.gather(*(fn(b) for b in bodies[:40]))
        for rnd_no in range(args.rounds):
            for name, fn in ways.items():
                cpu0, t0 = time.process_time(), time.perf_counter()
                await asyncio.gather(*(fn(bodies[i % len(bodies)]) for i in range(args.searches)))
                cpu = (time.process_time() - cpu0) * 1000 / args.searches
                wall = (time.perf_counter() - t0) * 1000 / args.searches
                cpu_ms[name].append(cpu)
                print(f"round {rnd_no + 1} {name:17} {cpu:.3f} ms CPU per search ({wall:.2f} ms wall)", flush=True)
    finally:
        reads.close()
        await session.close()
        await es.close()
    print("\n| way | CPU ms per search, median (min-max) |\n| --- | --- |")
    for name, values in cpu_ms.items():
        print(f"| {name} | {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", type=int, default=600, help="searches per way and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    uvloop.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
