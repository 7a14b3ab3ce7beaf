"""create_app(settings): the ops API (operators and admins only)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Annotated, Any

from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from api.common.deps import bearer, require
from api.common.docs import install_docs
from api.common.observability import install_observability
from api.common.problems import QUERY_RESPONSES, install_fallback_handler, install_problem_handlers
from api.common.serving import NO_OPENTELEMETRY
from api.ops.console import install_console
from farmacy.auth import Principal, Role
from farmacy.settings import PLACEHOLDER_SECRETS, Mode, Settings
from sinks.views import VIEWS

# Admins may look (views, capture, dead letters, jobs); only operators act on the sync (every POST and PUT).
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.ADMIN))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
router = APIRouter(prefix="/ops", tags=["ops"], responses=QUERY_RESPONSES)


def _view(view: str) -> str:
    if view not in VIEWS:
        raise HTTPException(404, f"no view {view!r}; views: {', '.join(VIEWS)}")
    return view


@router.get("/views", summary="Every view: applied position and its age, consumer lag, dead letters")
def views(request: Request, _op: Staff) -> list[dict[str, Any]]:
    from ops.status import view_status

    s = request.app.state
    # A new admin client per request: a long-lived one can keep failing after a broker restart.
    admin = AdminClient({"bootstrap.servers": s.settings.kafka_bootstrap})
    return [view_status(s.settings, s.es, admin, name) for name in VIEWS]


@router.get("/replication-slot", summary="The capture slot: active, WAL retained behind it")
def replication_slot(request: Request, _op: Staff) -> dict[str, Any]:
    from ops.status import replication_slot as read

    settings: Settings = request.app.state.settings
    slot = read(settings)
    if slot is None:
        raise HTTPException(404, f"replication slot {settings.slot_name} does not exist (connector never started?)")
    return slot


@router.get("/connectors", summary="Connector and task states as Kafka Connect reports them")
def connectors(request: Request, _op: Staff) -> list[dict[str, Any] | None]:
    from ops.connectors import statuses

    return statuses(request.app.state.settings)


@router.post("/connectors/{name}/{action}", summary="restart (connector and failed tasks), pause or resume")
def connector_action(name: str, action: str, request: Request, _op: Operator) -> dict[str, Any] | None:
    from ops.connectors import UnknownConnector, act

    try:
        return act(request.app.state.settings, name, action)
    except UnknownConnector as exc:
        raise HTTPException(404, str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/views/{view}/dead-letters", summary="A view's dead-lettered events with their errors")
def dead_letters(
    view: str, request: Request, _op: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    from ops.dead_letters import letter_states

    s = request.app.state
    return [
        {
            "partition": state.letter.partition,
            "offset": state.letter.offset,
            "key": (state.letter.key or b"").decode(errors="replace"),
            "headers": state.letter.headers,
            "current": state.current,  # its change still holds the view; else resolved
        }
        for state in letter_states(s.settings, _view(view), limit, s.es)
    ]


@router.post("/views/{view}/dead-letters/redrive", summary="Send dead letters back to the view's worker")
def redrive(view: str, request: Request, _op: Operator) -> dict[str, int]:
    from ops.dead_letters import redrive as run

    return {"redriven": run(request.app.state.settings, _view(view))}


@router.post("/views/{view}/dead-letters/discard", summary="Resolve dead letters without applying them")
def discard(view: str, request: Request, _op: Operator) -> dict[str, int]:
    from ops.dead_letters import discard as run

    return {"discarded": run(request.app.state.settings, _view(view))}


@router.post(
    "/views/{view}/dead-letters/{partition}/{offset}/{action}",
    summary="redrive or discard one dead letter (PARTITION:OFFSET of the view's dead-letter topic)",
)
def one_dead_letter(
    view: str, partition: int, offset: int, action: str, request: Request, _op: Operator
) -> dict[str, Any]:
    from ops.dead_letters import UnknownDeadLetter, resolve_one

    if action not in ("redrive", "discard"):
        raise HTTPException(404, f"no action {action!r}; actions: redrive, discard")
    try:
        letter = resolve_one(request.app.state.settings, _view(view), partition, offset, discard=action == "discard")
    except UnknownDeadLetter as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"partition": partition, "offset": offset, "source": letter.origin, "action": action}


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


class ReplayRequest(BaseModel):
    since: str | None = Field(None, description="A time (2026-11-25T10:00Z) or a duration back from now (1h, 30m)")
    offsets: list[str] = Field(default_factory=list, description="TOPIC:PARTITION:OFFSET to restart from")
    from_beginning: bool = False


@router.post("/views/{view}/replay", summary="Replay a view from a time, from offsets, or from the beginning")
def replay(view: str, body: ReplayRequest, request: Request, _op: Operator) -> dict[str, Any]:
    from ops.control import RequestNotCarriedOut
    from ops.replay import parse_since, replay_view

    try:
        since = parse_since(body.since) if body.since else None
        moved = replay_view(request.app.state.settings, _view(view), body.offsets, body.from_beginning, since=since)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    except RequestNotCarriedOut as exc:  # the workers did not answer (down, or an outage): nothing moved for them
        raise HTTPException(503, str(exc)) from exc
    return {"view": view, "offsets": [{"topic": t.topic, "partition": t.partition, "offset": t.offset} for t in moved]}


class WorkerCount(BaseModel):
    workers: int = Field(ge=1, description="How many sink workers the view runs: at most its topics' partitions")


@router.put(
    "/views/{view}/workers",
    summary="How many sink workers the view runs: recorded for the platform to follow (KEDA, or the local scaler)",
)
def scale(view: str, body: WorkerCount, request: Request, _op: Operator) -> dict[str, Any]:
    from ops.control import set_worker_count

    try:
        set_worker_count(request.app.state.settings, request.app.state.es, _view(view), body.workers)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"view": view, "workers": body.workers}


@router.get("/alerts", summary="Alerts active in Alertmanager and the latest notifications received")
def alerts(
    request: Request, _op: Staff, limit: Annotated[int, Query(ge=1, le=500)] = 50, name: str | None = None
) -> dict[str, Any]:
    from ops.alerts import active_alerts, recent_notifications

    settings: Settings = request.app.state.settings
    return {
        "active": active_alerts(settings),
        "notifications": [asdict(n) for n in recent_notifications(settings, limit, name)],
    }


def _alertmanager(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    settings: Settings = request.app.state.settings
    expected = settings.alert_webhook_secret.get_secret_value()
    if settings.mode is Mode.PRODUCTION and expected in PLACEHOLDER_SECRETS:
        raise HTTPException(503, "the alert receiver is off: set FARMACY_ALERT_WEBHOOK_SECRET to a real secret")
    if creds is None or not hmac.compare_digest(creds.credentials.encode(), expected.encode()):
        raise HTTPException(401, "the alert receiver needs FARMACY_ALERT_WEBHOOK_SECRET as bearer credentials")


@router.post(
    "/alerts/webhook",
    summary="Alertmanager's webhook receiver: stores each notification in PostgreSQL",
    dependencies=[Depends(_alertmanager)],
)
def alert_webhook(payload: dict[str, Any], request: Request) -> dict[str, int]:
    from ops.alerts import store_notification

    return {"stored": store_notification(request.app.state.settings, payload)}


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
        telemetry=NO_OPENTELEMETRY,
        title="Farmacy Food ops API",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # install_docs: Swagger UI and ReDoc from local assets
        redoc_url=None,
        description="For operators (role operator or admin): views, capture, dead letters, drift.",
    )
    app.state.settings = settings
    app.state.es = Elasticsearch(settings.elasticsearch_urls, request_timeout=60)
    install_problem_handlers(app)
    install_fallback_handler(app)
    install_docs(app)
    install_observability(app, "ops-api", ready=_ready)
    app.include_router(router)
    install_console(app)
    return app


async def _ready(app: FastAPI) -> dict[str, str]:
    health = await asyncio.to_thread(app.state.es.cluster.health)
    return {"elasticsearch": str(health["status"])}
