"""The query API's searches and gets, sent to the Elasticsearch client's nodes directly.

Every read of a view goes through here: the request body serialized once with orjson, sent on the client's own
connection pool (its aiohttp nodes, their timeout and connection limits), the answer parsed once. What the client's
generic layers do on top (parameter handling, a serializer registry, tracing spans, per-request log formatting)
cost a search about 0.3 ms of CPU (`benchmarks.proxy_floor` beside the query API), a tenth of a search's cost on
the machine. What they do that matters is kept, as the client's transport does it:

- a node that refuses the connection is marked dead in the client's node pool and the request goes to the next
  node, up to ``max_retries`` times (the multi-node profile);
- a request not answered within ``timeout_s`` (the API's ``api_es_timeout_s``) is an outage, not retried
  (``ConnectionTimeout``);
- an answer with an error status raises the client's own exception (``NotFoundError`` for 404, ``ApiError``), so
  the problem handlers map them as they map the client's.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from elastic_transport import BaseAsyncNode, ConnectionTimeout, HttpHeaders, NodePool
from elastic_transport import ConnectionError as NodeConnectionError
from elasticsearch import AsyncElasticsearch
from elasticsearch.exceptions import HTTP_EXCEPTIONS, ApiError
from fastapi import Request

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
            try:
                resp = await node.perform_request(
                    method, target, body=body, headers=JSON, request_timeout=self.timeout_s
                )
            except ConnectionTimeout:
                self.pool.mark_dead(node)
                raise
            except NodeConnectionError:
                self.pool.mark_dead(node)
                if attempt >= self.max_retries:
                    raise
                attempt += 1
                continue
            status = resp.meta.status
            if 200 <= status < 300:
                self.pool.mark_live(node)
                return orjson.loads(resp.body)  # type: ignore[no-any-return]
            if status in NODE_ALIVE:
                self.pool.mark_live(node)
            else:
                self.pool.mark_dead(node)
            answer = _parsed(resp.body)
            raise HTTP_EXCEPTIONS.get(status, ApiError)(message=_reason(answer, status), meta=resp.meta, body=answer)


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
