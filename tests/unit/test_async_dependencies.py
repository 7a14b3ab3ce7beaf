"""The command and query APIs never hop to a worker thread on a request: FastAPI runs a plain (non-async) endpoint
or dependency in its thread pool, which cost a catalog search half of its in-process time (1.0 -> 0.48 ms per
search when `es_client` became a coroutine). Every endpoint and every dependency of those two APIs is a coroutine."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.command.app import create_app as command_app
from api.query.app import create_app as query_app
from farmacy.settings import Settings


def _is_coroutine(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):  # async generators: no thread either
        return True
    method = getattr(call, "__call__", None)  # noqa: B004 - instances such as HTTPBearer are called through it
    return not inspect.isfunction(call) and inspect.iscoroutinefunction(method)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also those of included routers (FastAPI keeps an included router as one entry that holds
    the original router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(router.routes)


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


@pytest.mark.parametrize("factory", [command_app, query_app], ids=["command", "query"])
def test_every_endpoint_and_dependency_is_a_coroutine(factory: Any) -> None:
    app: FastAPI = factory(Settings())
    threaded = []
    routes = list(_api_routes(app.routes))
    assert len(routes) > 10, "the walk found too few routes: FastAPI's route layout may have changed"
    for route in routes:
        for call in [route.endpoint, *_calls(route.dependant)]:
            if not _is_coroutine(call):
                threaded.append(f"{route.path}: {getattr(call, '__qualname__', call)!r}")
    assert threaded == []
