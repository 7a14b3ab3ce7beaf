"""create_app(settings): the command API with its adapters (PostgreSQL pool)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.command.idempotency import install_replay_handler
from api.command.routers import customers, inventory, locations, meals, orders, plans, subscriptions
from api.common.observability import install_observability
from api.common.problems import install_fallback_handler, install_problem_handlers
from farmacy.settings import Settings
from writemodel.uow import make_pool


def create_app(settings: Settings) -> FastAPI:
    pool = make_pool(settings.pg_dsn, timeout_s=settings.command_db_wait_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="Farmacy Food command API",
        version="0.1.0",
        description="Writes to the master database. Every successful command returns a consistency token "
        "(the commit's WAL position) in the X-Consistency-Token header and body.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    install_problem_handlers(app)
    install_fallback_handler(app)
    install_replay_handler(app)
    install_observability(app, "command-api", ready=_ready)
    for router in (
        meals.router,
        locations.router,
        inventory.router,
        customers.router,
        orders.router,
        plans.router,
        subscriptions.router,
    ):
        app.include_router(router)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    async with app.state.pool.connection() as conn:
        await conn.execute("SELECT 1")
    return {"postgres": "ok"}
