"""create_app(settings): the command API with its adapters (PostgreSQL pool)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from api.command.idempotency import install_replay_handler
from api.command.routers import customers, inventory, locations, meals, orders, plans, subscriptions
from api.common.docs import install_docs
from api.common.observability import install_observability
from api.common.problems import install_fallback_handler, install_problem_handlers
from api.common.quotas import install_quotas
from api.common.serving import NO_OPENTELEMETRY, freeze_startup_heap
from farmacy import consistency
from farmacy.settings import Settings
from writemodel.uow import Pool, make_pool, purge_expired_keys

PURGE_EVERY_S = 600
# A command answered below 400 within this many milliseconds is counted in the metrics and logged at DEBUG only;
# every failure and every slower command is logged at INFO. Each successful command leaves its own record in the
# database (the ledger, the stored idempotent response); a log line for each cost 9% of a worker's CPU per stock
# adjustment under load (py-spy: structlog formatting and the write to the log file).
REQUEST_LOG_MS = 250.0
log = structlog.get_logger("idempotency")


def create_app(settings: Settings) -> FastAPI:
    pool = make_pool(settings.pg_dsn, timeout_s=settings.command_db_wait_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True, timeout=30)
        purge = asyncio.create_task(_purge_expired_keys(pool, settings.idempotency_ttl_s), name="purge-keys")
        freeze_startup_heap()
        try:
            yield
        finally:
            purge.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purge
            await pool.close()

    app = FastAPI(
        telemetry=NO_OPENTELEMETRY,
        title="Farmacy Food command API",
        version="0.1.0",
        description="Writes to the master database. Every successful command returns a consistency token "
        f"(the commit's WAL position) in the {consistency.HEADER} header and body.",
        lifespan=lifespan,
        docs_url=None,  # install_docs: Swagger UI and ReDoc from local assets
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.pool = pool
    install_problem_handlers(app)
    install_fallback_handler(app)
    install_replay_handler(app)
    install_docs(app)
    install_quotas(app, "command-api", settings)
    install_observability(app, "command-api", ready=_ready, log_all_ms=REQUEST_LOG_MS)
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


async def _purge_expired_keys(pool: Pool, ttl_s: int) -> None:
    """Idempotency keys past their time to live are free again at once (the claim takes them over); this only
    keeps the table from growing."""
    while True:
        await asyncio.sleep(PURGE_EVERY_S)
        try:
            deleted = await purge_expired_keys(pool, ttl_s)
            if deleted:
                log.info("expired idempotency keys deleted", count=deleted)
        except Exception as exc:  # the master away: next time
            log.warning("purging expired idempotency keys failed", error=f"{type(exc).__name__}: {str(exc)[:200]}")
