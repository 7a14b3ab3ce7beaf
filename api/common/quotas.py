"""Quotas of the command and query APIs: a token bucket per client (the verified token's subject) and one per client
address, in each API process. A request over either answers 429 problem+json with Retry-After, before any route
runs, and is counted in ``farmacy_http_throttled_total`` by scope."""

from __future__ import annotations

import math
import time

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.common.buckets import TokenBuckets
from api.common.deps import token_verifier
from api.common.observability import THROTTLED
from api.common.problems import PROBLEM, TYPE_BASE
from farmacy.auth import InvalidToken, KeysUnavailable
from farmacy.settings import Settings

UNMETERED = frozenset({"/health", "/metrics"})


class Quotas:
    """Pure ASGI middleware. The client's bucket is looked at first, and a request refused by it takes nothing from
    its address's bucket: one client over its quota does not use up the quota of the others behind its address."""

    def __init__(self, app: ASGIApp, service: str, settings: Settings) -> None:
        self.app = app
        self.service = service
        self.clients = TokenBuckets(settings.quota_client_rate, settings.quota_client_burst)
        self.addresses = TokenBuckets(settings.quota_address_rate, settings.quota_address_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNMETERED:
            await self.app(scope, receive, send)
            return
        now = time.monotonic()
        client = _client(scope)
        if client is not None:
            wait = self.clients.wait(client, now)
            if wait > 0:
                await self._refuse(scope, send, "client", wait)
                return
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.addresses.wait(address, now)
        if wait > 0:
            await self._refuse(scope, send, "address", wait)
            return
        if client is not None:
            self.clients.take(client)
        self.addresses.take(address)
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send: Send, over: str, wait: float) -> None:
        THROTTLED.labels(self.service, over).inc()
        retry_after = max(1, math.ceil(wait))
        body = orjson.dumps(
            {
                "type": TYPE_BASE + "too-many-requests",
                "title": "Too many requests",
                "status": 429,
                "detail": f"over the {over}'s quota; retry after {retry_after} s",
                "instance": scope["path"],
                "errors": [],
            }
        )
        headers = [
            (b"content-type", PROBLEM.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _client(scope: Scope) -> str | None:
    """The subject of the request's bearer token when it is valid; None otherwise (then only the address counts,
    and the route's own dependency answers a bad token)."""
    header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
    if header is None or header[:7].lower() != b"bearer ":
        return None
    app: FastAPI = scope["app"]
    try:
        return token_verifier(app).verify(header[7:].decode("latin-1").strip()).subject
    except (InvalidToken, KeysUnavailable):
        return None


def install_quotas(app: FastAPI, service: str, settings: Settings) -> None:
    """Call before install_observability: the request context stays outermost, so throttled requests are logged
    and counted with the others (status 429)."""
    app.add_middleware(Quotas, service=service, settings=settings)
