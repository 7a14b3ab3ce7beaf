"""create_app(settings): the query API with its one adapter, Elasticsearch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer
from fastapi import FastAPI

from api.common.docs import install_docs
from api.common.hot_routes import install_hot_routes
from api.common.observability import install_observability
from api.common.problems import install_fallback_handler, install_problem_handlers, register_status
from api.common.quotas import install_quotas
from api.common.serving import NO_OPENTELEMETRY, freeze_startup_heap
from api.query.es_reads import CONNECTIONS_PER_NODE, Reads
from api.query.freshness import ViewBehind, Watermarks
from api.query.routers import catalog, inventory, orders, subscriptions
from farmacy import consistency
from farmacy.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    # A request not answered within api_es_timeout_s is an outage (503 with Retry-After), never retried here: the
    # client retries, and a hung node must not hold a request for longer than about two seconds. A node that
    # refuses the connection (down) is different: the request goes to the next node, if there is one.
    es = AsyncElasticsearch(
        settings.elasticsearch_urls,
        request_timeout=settings.api_es_timeout_s,
        max_retries=len(settings.elasticsearch_urls) - 1,
        retry_on_timeout=False,
        connections_per_node=CONNECTIONS_PER_NODE,
        serializer=OrjsonSerializer(),
    )
    reads = Reads(es, max_retries=len(settings.elasticsearch_urls) - 1, timeout_s=settings.api_es_timeout_s)
    watermarks = Watermarks(es, settings.sync_index, settings.views, settings.watermark_refresh_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watermarks.start()
        freeze_startup_heap()
        try:
            yield
        finally:
            await watermarks.stop()
            reads.close()
            await es.close()

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="Farmacy Food query API",
        version="0.1.0",
        description="Reads the denormalized Elasticsearch views, never the master. Every response says how fresh "
        f"its view is; send {consistency.HEADER} from a command response to read your own write.",
        lifespan=lifespan,
        docs_url=None,  # install_docs: Swagger UI and ReDoc from local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.es = es
    app.state.reads = reads
    app.state.watermarks = watermarks
    install_problem_handlers(app)
    install_fallback_handler(app)
    register_status(ViewBehind, 503)
    install_docs(app)
    install_quotas(app, "query-api", settings)
    install_observability(app, "query-api", ready=_ready, log_all_ms=settings.query_request_log_ms)
    for router in (catalog.router, inventory.router, orders.router, subscriptions.router):
        app.include_router(router)
    # The busiest route, past FastAPI's routing (api/common/hot_routes.py).
    install_hot_routes(app, catalog.search_meals)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    health = await app.state.es.cluster.health()
    return {"elasticsearch": str(health["status"])}
