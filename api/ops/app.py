"""create_app(settings): the ops API (operators and admins only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import psycopg
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request

from api.common.deps import require
from api.common.observability import install_observability
from api.common.problems import QUERY_RESPONSES, install_fallback_handler, install_problem_handlers
from farmacy.auth import Principal, Role
from farmacy.connect import ConnectClient, load_specs
from farmacy.settings import Settings
from sinks.views import VIEWS

Operator = Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))]
router = APIRouter(prefix="/ops", tags=["ops"], responses=QUERY_RESPONSES)


def _view(view: str) -> str:
    if view not in VIEWS:
        raise HTTPException(404, f"no view {view!r}; views: {', '.join(VIEWS)}")
    return view


@router.get("/views", summary="Every view: applied position and its age, consumer lag, dead letters")
def views(request: Request, _op: Operator) -> list[dict[str, Any]]:
    from ops.status import view_status

    s = request.app.state
    # A new admin client per request: a long-lived one can keep failing after a broker restart.
    admin = AdminClient({"bootstrap.servers": s.settings.kafka_bootstrap})
    return [view_status(s.settings, s.es, admin, name) for name in VIEWS]


@router.get("/replication-slot", summary="The capture slot: active, WAL retained behind it")
def replication_slot(request: Request, _op: Operator) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(
            """SELECT slot_name, plugin, active, wal_status, confirmed_flush_lsn::text,
                      pg_current_wal_lsn()::text, (pg_current_wal_lsn() - confirmed_flush_lsn)::bigint
               FROM pg_replication_slots WHERE slot_name = %s""",
            [settings.slot_name],
        ).fetchone()
    if row is None:
        raise HTTPException(404, f"replication slot {settings.slot_name} does not exist (connector never started?)")
    keys = ("slot_name", "plugin", "active", "wal_status", "confirmed_flush_lsn", "current_wal_lsn", "lag_bytes")
    return dict(zip(keys, row, strict=True))


@router.get("/connectors", summary="Connector and task states as Kafka Connect reports them")
def connectors(request: Request, _op: Operator) -> list[dict[str, Any] | None]:
    client = ConnectClient(request.app.state.settings.connect_url)
    try:
        return [client.status(spec.name) for spec in load_specs(request.app.state.settings)]
    finally:
        client.close()


@router.post("/connectors/{name}/{action}", summary="restart (connector and failed tasks), pause or resume")
def connector_action(name: str, action: str, request: Request, _op: Operator) -> dict[str, Any] | None:
    if name not in {spec.name for spec in load_specs(request.app.state.settings)}:
        raise HTTPException(404, f"no connector {name!r}")
    client = ConnectClient(request.app.state.settings.connect_url)
    try:
        if action == "restart":
            client.restart(name, include_tasks=True, only_failed=True)
        elif action == "pause":
            client.pause(name)
        elif action == "resume":
            client.resume(name)
        else:
            raise HTTPException(404, f"no action {action!r}; actions: restart, pause, resume")
        return client.status(name)
    finally:
        client.close()


@router.get("/views/{view}/dead-letters", summary="A view's dead-lettered events with their errors")
def dead_letters(
    view: str, request: Request, _op: Operator, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    from ops.dead_letters import list_dead_letters

    letters = list_dead_letters(request.app.state.settings, _view(view), limit)
    return [
        {
            "partition": d.partition,
            "offset": d.offset,
            "key": (d.key or b"").decode(errors="replace"),
            "headers": d.headers,
        }
        for d in letters
    ]


@router.post("/views/{view}/dead-letters/redrive", summary="Send dead letters back to the view's worker")
def redrive(view: str, request: Request, _op: Operator) -> dict[str, int]:
    from ops.dead_letters import redrive as run

    return {"redriven": run(request.app.state.settings, _view(view))}


@router.post("/views/{view}/dead-letters/discard", summary="Resolve dead letters without applying them")
def discard(view: str, request: Request, _op: Operator) -> dict[str, int]:
    from ops.dead_letters import discard as run

    return {"discarded": run(request.app.state.settings, _view(view))}


@router.post("/views/{view}/reconcile", summary="Compare the view with the master; optionally repair")
def reconcile(view: str, request: Request, _op: Operator, repair: bool = False) -> dict[str, Any]:
    from ops.reconcile import reconcile as run

    s = request.app.state
    drift = run(s.read_pool, s.es, VIEWS[_view(view)], repair=repair)
    return {
        "view": drift.view,
        "master_documents": drift.master_documents,
        "view_documents": drift.view_documents,
        "missing": drift.missing[:100],
        "extra": drift.extra[:100],
        "different": drift.different[:100],
        "drift": drift.total,
        "repaired": drift.repaired,
    }


def create_app(settings: Settings) -> FastAPI:
    from sinks.bootstrap import read_pool

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.read_pool = read_pool(settings, "ops", max_size=2)
        try:
            yield
        finally:
            app.state.read_pool.close()
            app.state.es.close()

    app = FastAPI(
        title="Farmacy Food ops API",
        version="0.1.0",
        lifespan=lifespan,
        description="For operators (role operator or admin): views, capture, dead letters, drift.",
    )
    app.state.settings = settings
    app.state.es = Elasticsearch(settings.elasticsearch_url, request_timeout=60)
    install_problem_handlers(app)
    install_fallback_handler(app)
    install_observability(app, "ops-api", ready=_ready)
    app.include_router(router)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    health = await asyncio.to_thread(app.state.es.cluster.health)
    return {"elasticsearch": str(health["status"])}
