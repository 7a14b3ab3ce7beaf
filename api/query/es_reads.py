"""The query API's searches and gets, sent straight to the node the Elasticsearch client's node pool picks.

Every read of a view goes through here: the request body serialized once with orjson, sent on keep-alive
connections of this process to the node the client's node pool picks (api/query/es_http.py), the answer parsed
once. What the client's generic layers do on top (parameter handling, a serializer registry, tracing spans,
per-request log formatting) cost a search about 0.3 ms of CPU (`benchmarks.proxy_floor` beside the query API), and
aiohttp's client about 0.28 ms more. What they do that matters is kept, as the client's transport does it:

- a node that refuses the connection is marked dead in the client's node pool and the request goes to the next
  node, up to ``max_retries`` times (the multi-node profile);
- a request not answered within ``timeout_s`` (the API's ``api_es_timeout_s``) is an outage, not retried
  (``ConnectionTimeout``);
- an answer with an error status raises the client's own exception (``NotFoundError`` for 404, ``ApiError``), so
  the problem handlers map them as they map the client's.
"""

from __future__ import annotations

import time
from typing import Any, cast

import orjson
from elastic_transport import ApiResponseMeta, BaseAsyncNode, ConnectionTimeout, HttpHeaders, NodePool
from elastic_transport import ConnectionError as NodeConnectionError
from elasticsearch import AsyncElasticsearch
from elasticsearch.exceptions import HTTP_EXCEPTIONS, ApiError
from fastapi import Request

from api.query.es_http import NodeConnections

# Connections to each node per process (the client's nodes are given the same number, api/query/app.py).
CONNECTIONS_PER_NODE = 64
JSON = HttpHeaders({"content-type": "application/json", "accept": "application/json"})
# Statuses that say nothing about the node's health (elastic_transport's own list): the node stays in the pool.
NODE_ALIVE = frozenset({400, 401, 402, 403, 404, 409})


class Reads:
    """``timeout_s`` bounds every request: the client applies its ``request_timeout`` per request, not in its nodes'
    configuration (theirs is elastic_transport's 10 s), so the nodes are given it here on each call."""

    def __init__(self, es: AsyncElasticsearch, max_retries: int, timeout_s: float) -> None:
        self.pool: NodePool = es.transport.node_pool
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.connections: dict[int, NodeConnections | None] = {}

    def _connections(self, node: BaseAsyncNode) -> NodeConnections | None:
        """This process's connections to ``node``; None for a node over HTTPS, which is read through the client's
        own node (its TLS settings)."""
        key = id(node)
        if key not in self.connections:
            plain = node.config.scheme == "http"
            self.connections[key] = NodeConnections(node.config, CONNECTIONS_PER_NODE) if plain else None
        return self.connections[key]

    def close(self) -> None:
        for conns in self.connections.values():
            if conns is not None:
                conns.close()

    async def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", f"/{index}/_search", orjson.dumps(body))

    async def get(self, index: str, doc_id: str, source: list[str] | None = None) -> dict[str, Any]:
        """A document as searches see it (not realtime: a realtime GET of a document changed since the last refresh
        refreshes the shard, a cost per read; a token read is still never stale, since a view publishes a position
        only after a refresh covering it). 404: ``NotFoundError``."""
        query = "realtime=false" + (f"&_source_includes={','.join(source)}" if source else "")
        return await self.request("GET", f"/{index}/_doc/{doc_id}?{query}", None)

    async def request(self, method: str, target: str, body: bytes | None) -> dict[str, Any]:
        attempt = 0
        while True:
            node = cast(BaseAsyncNode, self.pool.get())
            conns = self._connections(node)
            started = time.monotonic()
            try:
                if conns is not None:
                    status, raw = await conns.request(method, target, body, self.timeout_s)
                else:
                    resp = await node.perform_request(
                        method, target, body=body, headers=JSON, request_timeout=self.timeout_s
                    )
                    status, raw = resp.meta.status, resp.body
            except ConnectionTimeout:
                self.pool.mark_dead(node)
                raise
            except NodeConnectionError:
                self.pool.mark_dead(node)
                if attempt >= self.max_retries:
                    raise
                attempt += 1
                continue
            if 200 <= status < 300:
                self.pool.mark_live(node)
                return orjson.loads(raw)  # type: ignore[no-any-return]
            if status in NODE_ALIVE:
                self.pool.mark_live(node)
            else:
                self.pool.mark_dead(node)
            answer = _parsed(raw)
            meta = ApiResponseMeta(status, "1.1", HttpHeaders(), time.monotonic() - started, node.config)
            raise HTTP_EXCEPTIONS.get(status, ApiError)(message=_reason(answer, status), meta=meta, body=answer)


def _parsed(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _reason(answer: Any, status: int) -> str:
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        return str(answer["error"].get("type") or status)
    return str(status)


def reads(request: Request) -> Reads:
    return request.app.state.reads  # type: ignore[no-any-return]
