"""The query API's reads sent to the Elasticsearch client's nodes directly (api/query/es_reads.py) behave as the
client does, on the real Elasticsearch: answers parsed, error statuses raised as the client's exceptions, a node
that refuses the connection skipped for the next one, none left: the client's ConnectionError (a 503 in the API)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from elastic_transport import ConnectionError as NodeConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from api.query.es_reads import Reads
from farmacy.settings import Settings

pytestmark = pytest.mark.integration


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once the socket is closed


def _with_reads(urls: list[str], use: Callable[[Reads], Awaitable[Any]], timeout_s: float = 5) -> Any:
    async def run() -> Any:
        # As the query API builds its client (api/query/app.py): a refused node is retried on the next one.
        es = AsyncElasticsearch(urls, max_retries=len(urls) - 1, retry_on_timeout=False, request_timeout=timeout_s)
        reads = Reads(es, max_retries=len(urls) - 1, timeout_s=timeout_s)
        try:
            return await use(reads)
        finally:
            reads.close()
            await es.close()

    return asyncio.run(run())


def test_a_search_and_a_get_answer_parsed(stack: Settings) -> None:
    async def use(reads: Reads) -> tuple[dict[str, Any], dict[str, Any]]:
        found = await reads.search("catalog", {"size": 1, "_source": ["name"], "query": {"match_all": {}}})
        meal_id = found["hits"]["hits"][0]["_id"]
        return found, await reads.get("catalog", meal_id, source=["name"])

    found, doc = _with_reads([stack.elasticsearch_url], use)
    assert found["hits"]["total"]["value"] > 0
    assert set(found["hits"]["hits"][0]["_source"]) == {"name"}
    assert doc["found"] is True and set(doc["_source"]) == {"name"}


def test_error_statuses_raise_the_clients_exceptions(stack: Settings) -> None:
    async def missing(reads: Reads) -> Any:
        return await reads.get("catalog", str(uuid.uuid4()))

    async def bad(reads: Reads) -> Any:
        return await reads.search("catalog", {"query": {"no_such_query": {}}})

    with pytest.raises(NotFoundError) as not_found:
        _with_reads([stack.elasticsearch_url], missing)
    assert not_found.value.meta.status == 404
    with pytest.raises(BadRequestError) as bad_request:
        _with_reads([stack.elasticsearch_url], bad)
    assert bad_request.value.meta.status == 400 and "parsing_exception" in str(bad_request.value)


def test_a_refused_node_is_skipped_for_the_next_and_none_left_is_a_connection_error(stack: Settings) -> None:
    async def searches(reads: Reads) -> list[int]:
        # The pool picks nodes in turn: several searches reach the refused node first at least once.
        return [(await reads.search("catalog", {"size": 0}))["hits"]["total"]["value"] for _ in range(4)]

    totals = _with_reads([_closed_port(), stack.elasticsearch_url], searches)
    assert len(totals) == 4 and all(t > 0 for t in totals)
    with pytest.raises(NodeConnectionError):
        _with_reads([_closed_port()], searches)


def test_a_node_that_never_answers_is_a_timeout_after_the_apis_bound_not_the_nodes_default() -> None:
    """A listening socket that never answers (the kernel accepts the connection, nobody reads): ConnectionTimeout
    after timeout_s (0.5 s), long before elastic_transport's own 10 s, and not retried on another node."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"

        async def search(reads: Reads) -> Any:
            return await reads.search("catalog", {"size": 0})

        started = time.monotonic()
        with pytest.raises(ConnectionTimeout):
            _with_reads([url], search, timeout_s=0.5)
        assert time.monotonic() - started < 5
