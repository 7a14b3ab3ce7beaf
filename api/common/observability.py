"""Request ids, structured access logs, Prometheus metrics and /health for both APIs."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.common.serving import MULTIPROC_ENV

REQUESTS = Counter("farmacy_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
LATENCY = Histogram(
    "farmacy_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
log = structlog.get_logger("http")
# /health answers within this bound even when a dependency hangs (then: 503, the dependency named).
HEALTH_TIMEOUT_S = 1.5


def install_observability(app: FastAPI, service: str, ready: Callable[[FastAPI], Awaitable[dict[str, str]]]) -> None:
    @app.middleware("http")
    async def request_context(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        elapsed = time.perf_counter() - started
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(service, request.method, route, str(response.status_code)).inc()
        LATENCY.labels(service, request.method, route).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        if route not in ("/health", "/metrics"):
            log.info(
                "request",
                request_id=request_id,
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                ms=round(elapsed * 1000, 1),
            )
        return response

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
