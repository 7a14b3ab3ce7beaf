"""The operators' console: server-rendered pages (Jinja2) with htmx, on the ops API under /console.

Login takes an operator or admin token of the identity provider (`farmacy token --role operator`) in a form body,
never a URL, and answers with a session cookie (HttpOnly, SameSite=Strict, an HS256 token signed with a key derived
from the JWT secret, so a session is not a bearer token for the APIs). Actions are POSTs sent by htmx, which must
carry its ``HX-Request`` header (a cross-site form cannot), and each calls the same function as the CLI and the ops
API.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.common.deps import token_verifier
from farmacy.auth import InvalidToken, KeysUnavailable, Principal, Role, mint, verify
from farmacy.settings import Settings
from sinks.views import VIEWS

HERE = Path(__file__).parent
COOKIE = "farmacy_console"
SESSION_TTL_S = 8 * 3600
CHART_WINDOW_S = 1800
CHART_STEP_S = 30
RESOLVED_SHOWN = 10  # resolved dead letters listed per view, newest first (the history, not the work)
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)


class LoginRequired(Exception):
    pass


def _session_key(settings: Settings) -> str:
    return hmac.new(settings.jwt_secret.get_secret_value().encode(), b"console-session", hashlib.sha256).hexdigest()


def operator(request: Request) -> Principal:
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        raise LoginRequired
    try:
        principal = verify(_session_key(settings), cookie)
    except InvalidToken:
        raise LoginRequired from None
    if principal.role not in (Role.OPERATOR, Role.ADMIN):
        raise LoginRequired
    return principal


def action(request: Request, principal: Annotated[Principal, Depends(operator)]) -> Principal:
    if request.headers.get("HX-Request") != "true":
        raise HTTPException(403, "console actions are sent by the console page (htmx)")
    if principal.role is not Role.OPERATOR:  # an admin may look; only operators act on the sync
        raise HTTPException(403, f"role {principal.role} may look but not act; log in with an operator token")
    return principal


Op = Annotated[Principal, Depends(operator)]
Act = Annotated[Principal, Depends(action)]


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


@router.get("/login")
def login_page(request: Request, error: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", error=error)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form()]) -> Response:
    settings: Settings = request.app.state.settings
    try:
        principal = token_verifier(request.app).verify(token.strip())
    except InvalidToken:
        return _page(request, "login.html", error="That token is not valid (expired, or not from our issuer).")
    except KeysUnavailable:
        return _page(request, "login.html", error="The identity provider cannot be reached; try again shortly.")
    if principal.role not in (Role.OPERATOR, Role.ADMIN):
        return _page(request, "login.html", error=f"Role {principal.role} may not operate; use an operator token.")
    response = RedirectResponse("/console", status_code=303)
    session = mint(_session_key(settings), principal.subject, principal.role, ttl_s=SESSION_TTL_S)
    response.set_cookie(
        COOKIE,
        session,
        max_age=SESSION_TTL_S,
        httponly=True,
        samesite="strict",
        path="/console",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
def index(request: Request, principal: Op) -> HTMLResponse:
    from ops.connectors import connector_names

    settings: Settings = request.app.state.settings
    return _page(
        request,
        "index.html",
        principal=principal,
        views=list(VIEWS),
        stack=settings.stack_name,
        connectors=connector_names(settings),
    )


# ---- parts (refreshed by htmx) -----------------------------------------------------------------------------


@router.get("/part/views")
def part_views(request: Request, _op: Op) -> HTMLResponse:
    from confluent_kafka.admin import AdminClient

    from ops.status import view_status

    s = request.app.state
    admin = AdminClient({"bootstrap.servers": s.settings.kafka_bootstrap})
    rows = [view_status(s.settings, s.es, admin, name) for name in VIEWS]
    return _page(request, "part_views.html", rows=rows, charts=_charts(s.settings))


@router.get("/part/capture")
def part_capture(request: Request, _op: Op) -> HTMLResponse:
    return _capture(request)


def _capture(request: Request, message: str | None = None) -> HTMLResponse:
    from ops.connectors import statuses
    from ops.status import replication_slot

    settings: Settings = request.app.state.settings
    slot = replication_slot(settings)
    return _page(request, "part_capture.html", connectors=statuses(settings), slot=slot, message=message)


@router.post("/connectors/{name}/{verb}")
def connector_action(name: str, verb: str, request: Request, _act: Act) -> HTMLResponse:
    from ops.connectors import UnknownConnector, act

    try:
        act(request.app.state.settings, name, verb)
    except (UnknownConnector, ValueError) as exc:
        raise HTTPException(404, str(exc)) from exc
    return _capture(request, f"{verb} sent to {name}")


@router.get("/part/dead-letters/{view}")
def part_dead_letters(view: str, request: Request, _op: Op) -> HTMLResponse:
    return _dead_letters(request, _known(view))


def _dead_letters(request: Request, view: str, message: str | None = None) -> HTMLResponse:
    from ops.dead_letters import letter_states

    s = request.app.state
    states = letter_states(s.settings, view, 50, s.es)
    current = [_letter(state.letter) for state in reversed(states) if state.current]
    resolved = [_letter(state.letter) for state in reversed(states) if not state.current]
    return _page(
        request,
        "part_dead_letters.html",
        view=view,
        current=current,
        resolved=resolved,
        resolved_shown=resolved[:RESOLVED_SHOWN],
        message=message,
    )


def _letter(letter: Any) -> dict[str, Any]:
    """What the console shows of a dead letter: its coordinates, error, key and payload (pretty JSON if it is)."""
    import json

    def text(raw: bytes | None) -> str:
        if raw is None:
            return ""
        decoded = raw.decode("utf-8", "replace")
        try:
            return json.dumps(json.loads(decoded), indent=2)[:20_000]
        except ValueError:
            return decoded[:20_000]

    h = letter.headers
    return {
        "at": f"{letter.partition}:{letter.offset}",
        "partition": letter.partition,
        "offset": letter.offset,
        "failed_at": h.get("dlq.failed_at", ""),
        "source": f"{h.get('dlq.topic')}[{h.get('dlq.partition')}]@{h.get('dlq.offset')}",
        "error_class": h.get("dlq.error.class", ""),
        "error": h.get("dlq.error", "")[:2000],
        "key": text(letter.key),
        "payload": text(letter.value) or h.get("dlq.payload", "(none: a tombstone)"),
    }


@router.post("/views/{view}/dead-letters/{verb}")
def dead_letter_action(view: str, verb: str, request: Request, _act: Act) -> HTMLResponse:
    from ops.dead_letters import discard, redrive

    settings = request.app.state.settings
    if verb == "redrive":
        message = f"re-drove {redrive(settings, _known(view))} event(s) to {view}'s worker"
    elif verb == "discard":
        message = f"discarded {discard(settings, _known(view))} dead letter(s) of {view}"
    else:
        raise HTTPException(404, f"no action {verb!r}")
    return _dead_letters(request, view, message)


@router.post("/views/{view}/dead-letters/{partition}/{offset}/{verb}")
def one_dead_letter_action(
    view: str, partition: int, offset: int, verb: str, request: Request, _act: Act
) -> HTMLResponse:
    from ops.dead_letters import UnknownDeadLetter, resolve_one

    if verb not in ("redrive", "discard"):
        raise HTTPException(404, f"no action {verb!r}")
    try:
        letter = resolve_one(request.app.state.settings, _known(view), partition, offset, discard=verb == "discard")
    except UnknownDeadLetter as exc:
        raise HTTPException(404, str(exc)) from exc
    done = "re-drove" if verb == "redrive" else "discarded"
    message = f"{done} dead letter #{partition}:{offset} ({letter.origin}) of {view}: " + (
        "resolved once its worker applies it" if verb == "redrive" else "its worker releases its hold"
    )
    return _dead_letters(request, view, message)


@router.post("/reconcile")
def reconcile(
    request: Request, _act: Act, view: Annotated[str, Form()], repair: Annotated[bool, Form()] = False
) -> HTMLResponse:
    from ops.reconcile import reconcile as run

    s = request.app.state
    drift = run(s.read_pool, s.es, VIEWS[_known(view)], repair=repair)
    return _page(request, "part_reconcile.html", drift=drift, repair=repair)


@router.post("/replay")
def replay(
    request: Request,
    _act: Act,
    view: Annotated[str, Form()],
    since: Annotated[str, Form()] = "",
    offset: Annotated[str, Form()] = "",
) -> HTMLResponse:
    from ops.control import RequestNotCarriedOut
    from ops.replay import parse_since, replay_view

    try:
        when = parse_since(since) if since.strip() else None
        offsets = [o.strip() for o in offset.split(",") if o.strip()]
        moved = replay_view(request.app.state.settings, _known(view), offsets, False, since=when)
    except (ValueError, RequestNotCarriedOut) as exc:
        return _page(request, "part_replay.html", error=str(exc), view=view, moved=[])
    return _page(request, "part_replay.html", error=None, view=view, moved=moved)


@router.post("/jobs/rebuild")
def start_rebuild(request: Request, _act: Act, view: Annotated[str, Form()]) -> HTMLResponse:
    from ops.jobs import rebuild_work

    request.app.state.jobs.start("rebuild", _known(view), rebuild_work(request.app.state.settings, view))
    return _jobs(request)


@router.post("/jobs/rollout")
def start_rollout(request: Request, _act: Act, view: Annotated[str, Form()]) -> HTMLResponse:
    from ops.jobs import rollout_work

    request.app.state.jobs.start("rollout", _known(view), rollout_work(request.app.state.settings, view))
    return _jobs(request)


@router.post("/jobs/rollback")
def start_rollback(request: Request, _act: Act, view: Annotated[str, Form()]) -> HTMLResponse:
    from ops.jobs import rollout_work

    request.app.state.jobs.start("rollback", _known(view), rollout_work(request.app.state.settings, view, back=True))
    return _jobs(request)


@router.post("/jobs/snapshot")
def start_snapshot(request: Request, _act: Act, tables: Annotated[str, Form()]) -> HTMLResponse:
    from ops.jobs import snapshot_work
    from ops.snapshots import captured_tables

    settings = request.app.state.settings
    names = [t.strip() for t in tables.split(",") if t.strip()]
    unknown = set(names) - captured_tables(settings)
    if not names or unknown:
        raise HTTPException(422, f"not captured by the connector: {', '.join(sorted(unknown)) or '(none given)'}")
    request.app.state.jobs.start("snapshot", ", ".join(names), snapshot_work(settings, names))
    return _jobs(request)


@router.get("/part/jobs")
def part_jobs(request: Request, _op: Op) -> HTMLResponse:
    return _jobs(request)


def _jobs(request: Request) -> HTMLResponse:
    return _page(request, "part_jobs.html", jobs=request.app.state.jobs.all())


@router.get("/part/alerts")
def part_alerts(request: Request, _op: Op) -> HTMLResponse:
    from ops.alerts import active_alerts, recent_notifications

    settings: Settings = request.app.state.settings
    try:
        active, error = active_alerts(settings), None
    except Exception as exc:
        active, error = [], f"Alertmanager at {settings.alertmanager_url} did not answer: {type(exc).__name__}"
    notes = recent_notifications(settings, 15)
    return _page(request, "part_alerts.html", active=active, notifications=notes, error=error)


# ---- helpers ------------------------------------------------------------------------------------------------


def _known(view: str) -> str:
    if view not in VIEWS:
        raise HTTPException(404, f"no view {view!r}")
    return view


def _charts(settings: Settings) -> dict[str, dict[str, str]]:
    """Per view, SVG polyline points of its applied-position age and its consumer lag over the last 30 minutes,
    from Prometheus (empty when Prometheus does not answer)."""
    import httpx

    end = datetime.now(UTC).timestamp()
    queries = {
        "age": "time() - farmacy_view_applied_timestamp_seconds",
        "lag": "sum by (view) (farmacy_sink_consumer_lag)",
    }
    charts: dict[str, dict[str, str]] = {v: {} for v in VIEWS}
    for kind, query in queries.items():
        try:
            resp = httpx.get(
                f"{settings.prometheus_url}/api/v1/query_range",
                params={"query": query, "start": end - CHART_WINDOW_S, "end": end, "step": CHART_STEP_S},
                timeout=3,
            )
            series = resp.raise_for_status().json()["data"]["result"]
        except (httpx.HTTPError, KeyError, ValueError):
            continue
        for s in series:
            view = s["metric"].get("view")
            if view in charts:
                charts[view][kind] = _points(s["values"], end)
                charts[view][kind + "_max"] = f"{max(float(v) for _, v in s['values']):.0f}"
    return charts


def _points(values: list[list[Any]], end: float, width: int = 240, height: int = 40) -> str:
    top = max((float(v) for _, v in values), default=0.0) or 1.0
    return " ".join(
        f"{width * (1 - (end - float(t)) / CHART_WINDOW_S):.1f},{height - height * float(v) / top:.1f}"
        for t, v in values
    )


def install_console(app: FastAPI) -> None:
    from ops.jobs import Jobs

    app.state.jobs = Jobs()
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
        return RedirectResponse("/console/login", status_code=303)
