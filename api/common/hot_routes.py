"""The busiest routes dispatched straight to their endpoint, past FastAPI's route matching and request handling.

A route of an API is found by trying each route's pattern in turn, and its endpoint is then called through FastAPI's
request handler: two exit stacks, dependency resolution (none, for these), the handling of its return value. For a
route whose endpoint takes only the ``Request`` and returns a finished ``Response``, none of that does anything, and
it cost a catalog search about a quarter of the query API's own Python (``benchmarks.query_inprocess``). Such a route
is declared as usual (its path, its OpenAPI document, its ``response_model``), and also installed here: a GET of its
exact path goes to the endpoint directly. Everything around the router stays as it was: the middleware (request
id, metrics, quotas), and the exception handlers, so an error is still answered as problem+json.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


class HotRoutes:
    """The router's own ASGI app, with a GET of a hot route's path answered by its endpoint. ``scope["route"]`` and
    ``scope["endpoint"]`` are set as the router sets them, so the metrics name the route."""

    def __init__(self, app: ASGIApp, routes: dict[str, tuple[APIRoute, Endpoint]]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Served under a root path (behind a proxy's prefix), routing is left to the router.
        direct = scope["type"] == "http" and scope["method"] == "GET" and not scope.get("root_path")
        hot = self.routes.get(scope["path"]) if direct else None
        if hot is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = hot
        scope["route"], scope["endpoint"], scope["path_params"] = route, endpoint, {}
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def install_hot_routes(app: FastAPI, *endpoints: Endpoint) -> None:
    """Dispatches a GET of each endpoint's route directly. Each must be an async GET route without path parameters
    or dependencies (its own, its router's or the app's), taking only the ``Request`` and returning a ``Response``:
    anything FastAPI would otherwise have done for it would be skipped, so anything else is refused here."""
    routes: dict[str, tuple[APIRoute, Endpoint]] = {}
    for endpoint in endpoints:
        route = _effective_route(app, endpoint)
        signature = inspect.signature(endpoint)
        params = list(signature.parameters.values())
        if (
            route.methods != {"GET"}
            or route.param_convertors
            or route.dependant.dependencies
            or len(params) != 1
            or params[0].annotation not in (Request, "Request")
            or signature.return_annotation not in (Response, "Response")
            or not inspect.iscoroutinefunction(endpoint)
        ):
            raise ValueError(f"{route.path}: not a route that can be dispatched directly")
        routes[route.path] = (getattr(route, "original_route", route), endpoint)
    app.router.middleware_stack = HotRoutes(app.router.middleware_stack, routes)


def _effective_route(app: FastAPI, endpoint: Endpoint) -> Any:
    """The route of ``endpoint`` as the app serves it: with an included router's prefix and dependencies, which
    FastAPI keeps in each included router's effective routes (``original_route`` is what routing puts in the
    scope)."""
    for route in app.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is endpoint:
            return route
        for effective in getattr(route, "effective_route_contexts", lambda: ())():
            if effective.endpoint is endpoint:
                return effective
    raise LookupError(f"{endpoint.__qualname__} is not a route of the app")
