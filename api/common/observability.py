"""Request ids, structured access logs, Prometheus metrics and /health for both APIs."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.common.buckets import TokenBuckets
from api.common.serving import MULTIPROC_ENV

REQUESTS = Counter("farmacy_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "farmacy_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
# Requests refused by a quota (api/common/quotas.py), by the quota's scope: "client" or "address".
THROTTLED = Counter("farmacy_http_throttled_total", "Requests refused with 429 by a quota", ["service", "scope"])
log = structlog.get_logger("http")
# /health answers within this bound even when a dependency hangs (then: 503, the dependency named).
HEALTH_TIMEOUT_S = 1.5


SLOW_LINES_PER_S = 5.0


class RequestContext:
    """Pure ASGI middleware (not Starlette's BaseHTTPMiddleware, which runs every request through an extra task
    and memory streams): a request id bound to the logs and echoed in X-Request-ID, an access log line, and the
    request's count and latency by route."""

    def __init__(
        self, app: ASGIApp, service: str, log_all_ms: float = 0.0, slow_lines_per_s: float = SLOW_LINES_PER_S
    ) -> None:
        self.app = app
        self.service = service
        # A request answered below 400 within log_all_ms is counted in the metrics but logged only at DEBUG: at
        # hundreds of searches a second a line per request drowns what matters (and py-spy found 10% of a query
        # worker's samples in logging at 100 clients). Every failure (status 400 and above) and every slower
        # request is logged at INFO; 0 logs every request.
        self.log_all_ms = log_all_ms
        self.debug = logging.getLogger("http").isEnabledFor(logging.DEBUG)
        # Slow requests (below 400, over log_all_ms) are logged at most slow_lines_per_s a second per process: when
        # the machine is saturated every request is slow, and a line each cost the busiest moment CPU for lines
        # that all say the same. The next line written says how many were left out.
        self.slow_lines = TokenBuckets(slow_lines_per_s, max(1, math.ceil(slow_lines_per_s)))
        self.slow_left_out = 0
        # A request without an X-Request-ID gets 32 hex digits: this process's random half and a count. Unique like
        # a UUID4 across processes and restarts, without the system call for random bytes on every request.
        self.id_prefix = secrets.token_hex(8)
        self.id_count = itertools.count()
        # Each labelled series once: prometheus_client looks the labels up under a lock on every labels() call.
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = request_id or f"{self.id_prefix}{next(self.id_count):016x}"
        header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500  # an exception before the response started: the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            counted, timed = self._series(method, route, status)
            counted.inc()
            timed.observe(elapsed)
            ms = round(elapsed * 1000, 1)
            # A refusal by a quota (429) is counted, not logged at INFO: a client over its quota would otherwise write
            # a line per refused request, the flood the quota is there to stop (farmacy_http_throttled_total).
            failed = status >= 400 and status != 429
            loud = failed or (ms >= self.log_all_ms and self._slow_line(started))
            if route not in ("/health", "/metrics") and (loud or self.debug):
                extra = {"slow_not_logged": self.slow_left_out} if loud and self.slow_left_out else {}
                if extra:
                    self.slow_left_out = 0
                log.log(
                    logging.INFO if loud else logging.DEBUG,
                    "request",
                    request_id=request_id,
                    method=method,
                    path=scope["path"],
                    status=status,
                    ms=ms,
                    **extra,
                )

    def _series(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = (
                REQUESTS.labels(self.service, method, route, str(status)),
                LATENCY.labels(self.service, method, route),
            )
        return series

    def _slow_line(self, now: float) -> bool:
        """Whether a slow answer may have its line now; one that may not is counted in ``slow_left_out``."""
        if self.slow_lines.wait("slow", now) == 0:
            self.slow_lines.take("slow")
            return True
        self.slow_left_out += 1
        return False


def install_observability(
    app: FastAPI,
    service: str,
    ready: Callable[[FastAPI], Awaitable[dict[str, str]]],
    log_all_ms: float = 0.0,
) -> None:
    app.add_middleware(RequestContext, service=service, log_all_ms=log_all_ms)

    @app.get("/health", tags=["ops"], summary="Liveness and readiness of this service")
    async def health() -> JSONResponse:
        body: dict[str, Any] = {"service": service}
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                body["dependencies"] = await ready(app)
            body["status"] = "ok"
            return JSONResponse(body)
        except TimeoutError:
            body["status"] = "unavailable"
            body["error"] = f"no answer from a dependency within {HEALTH_TIMEOUT_S} s"
            return JSONResponse(body, status_code=503)
        except Exception as exc:
            body["status"] = "unavailable"
            body["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            return JSONResponse(body, status_code=503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        if MULTIPROC_ENV in os.environ:  # several worker processes: merge what each one wrote
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
