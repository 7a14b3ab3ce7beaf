"""create_app(settings): the query API with its one adapter, Elasticsearch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI

from api.common.observability import install_observability
from api.common.problems import install_problem_handlers
from api.query.routers import inventory
from farmacy.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    es = AsyncElasticsearch(settings.elasticsearch_url, request_timeout=10)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await es.close()

    app = FastAPI(
        title="Farmacy Food query API",
        version="0.1.0",
        description="Reads the denormalized Elasticsearch views. Every response says how fresh it is.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.es = es
    install_problem_handlers(app)
    install_observability(app, "query-api", ready=_ready)
    app.include_router(inventory.router)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    health = await app.state.es.cluster.health()
    return {"elasticsearch": str(health["status"])}
