"""The floor of any Python tier between the clients and Elasticsearch: what a catalog search costs when a process
does nothing but pass it on.

``GET /catalog/meals?...`` is parsed (``urllib.parse``), turned into the query API's own Elasticsearch body
(``build_search``), POSTed to ``/catalog/_search`` on the query API's own keep-alive connections
(api/query/es_http.py, the cheapest client here), and Elasticsearch's answer is returned as it came: no FastAPI, no
validation, no middleware, no metrics, no response shaping. It is served the way the query API is (uvicorn, uvloop,
httptools, ``--workers`` processes on one socket).

Run it beside the stack and measure it in the same run as the query API and raw Elasticsearch:

    .venv/bin/python -m benchmarks.proxy_floor --port 8109 &
    .venv/bin/python -m benchmarks.api_throughput query --clients 16 100 --seconds 10 --repeats 3 \\
        --api query-api=http://127.0.0.1:8002 --api floor=http://127.0.0.1:8109 --cpu-pid floor=$!

The difference between this target and raw Elasticsearch is what a middle tier costs on the machine before it does
any of its own work: a request received and a response sent on one more connection, one more HTTP request made and
its answer read.
"""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import parse_qs

import orjson
from elastic_transport import NodeConfig
from elasticsearch import AsyncElasticsearch

from api.common.serving import freeze_startup_heap
from api.query.catalog_query import CatalogSearch, CatalogSort, build_search
from api.query.deps import parse_near
from api.query.es_http import NodeConnections
from api.query.es_reads import CONNECTIONS_PER_NODE
from api.query.json_bodies import CATALOG_SOURCE
from farmacy.settings import Settings

LISTS = ("dietary_tags", "exclude_allergens")
INTS = ("price_min", "price_max", "calories_min", "calories_max", "spice_level_min", "spice_level_max", "size")


def search_of(query_string: bytes) -> CatalogSearch:
    params = parse_qs(query_string.decode("latin-1"))
    one = {k: v[-1] for k, v in params.items() if k not in LISTS}
    return CatalogSearch(
        q=one.get("q"),
        dietary_tags=params.get("dietary_tags", []),
        exclude_allergens=params.get("exclude_allergens", []),
        **{k: int(one[k]) for k in INTS if k in one},
        location_id=one.get("location_id"),
        near=parse_near(one.get("near")),
        radius_km=float(one["radius_km"]) if "radius_km" in one else None,
        available_now=one.get("available_now") == "true",
        sort=CatalogSort(one.get("sort", "relevance")),
        cursor=one.get("cursor"),
    )


class Floor:
    """A raw ASGI app: the search passed on, the answer passed back."""

    def __init__(self, es_url: str) -> None:
        self.connections = NodeConnections(NodeConfig(**_node_fields(es_url)), CONNECTIONS_PER_NODE)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    freeze_startup_heap()  # as the query API does once started
                    await send({"type": "lifespan.startup.complete"})
            self.connections.close()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = orjson.dumps(build_search(search_of(scope["query_string"]), CATALOG_SOURCE))
        status, answer = await self.connections.request("POST", "/catalog/_search", body, 10)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def _node_fields(url: str) -> dict[str, Any]:
    """The node of ``url`` as the Elasticsearch client reads it (scheme, host, port, credentials as headers)."""
    node = AsyncElasticsearch(url).transport.node_pool.get().config
    return {"scheme": node.scheme, "host": node.host, "port": node.port, "headers": node.headers}


def app() -> Floor:
    return Floor(Settings().elasticsearch_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8109)
    parser.add_argument("--workers", type=int, default=0, help="0: as many as the query API runs")
    args = parser.parse_args()
    from api.common.serving import serve, worker_count

    # Served exactly as the query API is (api/common/serving.py).
    serve(
        "benchmarks.proxy_floor:app",
        "proxy-floor",
        "127.0.0.1",
        args.port,
        args.workers or worker_count(Settings().query_workers),
    )


if __name__ == "__main__":
    main()
