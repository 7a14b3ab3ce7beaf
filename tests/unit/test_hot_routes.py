"""Routes dispatched straight to their endpoint (api/common/hot_routes.py): what they skip, and what they keep."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from api.common.hot_routes import HotRoutes, install_hot_routes
from api.common.observability import RequestContext

router = APIRouter()
seen: dict[str, Any] = {}


@router.get("/hot")
async def hot(request: Request) -> Response:
    seen["route"] = request.scope["route"]
    seen["through_fastapi"] = "fastapi_inner_astack" in request.scope  # set by FastAPI's request handler
    if request.query_params.get("fail"):
        raise HTTPException(418, "asked to fail")
    return JSONResponse({"q": request.query_params.get("q")})


@router.get("/cold")
async def cold(request: Request) -> Response:
    seen["through_fastapi"] = "fastapi_inner_astack" in request.scope
    return JSONResponse({"cold": True})


async def needs_something() -> int:
    return 1


@router.get("/with-a-dependency")
async def with_a_dependency(request: Request, one: int = Depends(needs_something)) -> Response:
    return JSONResponse({"one": one})


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(HTTPException)
    async def problem(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"title": exc.detail}, status_code=exc.status_code, media_type="application/problem+json")

    app.include_router(router)
    install_hot_routes(app, hot)
    return app


def test_a_get_of_the_route_reaches_its_endpoint_without_fastapis_handler() -> None:
    seen.clear()
    answer = TestClient(_app()).get("/hot", params={"q": "salad"})
    assert answer.status_code == 200 and answer.json() == {"q": "salad"}
    assert seen["through_fastapi"] is False
    assert seen["route"].path == "/hot"  # what the request metrics are labelled with


def test_the_other_routes_are_routed_as_before() -> None:
    seen.clear()
    client = TestClient(_app())
    assert client.get("/cold").json() == {"cold": True}
    assert seen["through_fastapi"] is True
    assert client.post("/hot").status_code == 405  # only a GET is dispatched directly
    slash = client.get("/hot/", follow_redirects=False)  # the router's redirect of a trailing slash, as before
    assert (slash.status_code, slash.headers["location"]) == (307, "http://testserver/hot")


def test_an_error_of_the_endpoint_is_answered_by_the_apps_handlers() -> None:
    answer = TestClient(_app(), raise_server_exceptions=False).get("/hot", params={"fail": "1"})
    assert answer.status_code == 418
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {"title": "asked to fail"}


def test_the_request_context_names_the_route() -> None:
    app = _app()
    app.add_middleware(RequestContext, service="test")
    answer = TestClient(app).get("/hot", headers={"x-request-id": "abc"})
    assert answer.headers["x-request-id"] == "abc"
    generated = TestClient(app).get("/hot").headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0


def test_a_route_with_dependencies_is_refused() -> None:
    app = FastAPI()
    app.include_router(router)
    with pytest.raises(ValueError, match="/with-a-dependency"):
        install_hot_routes(app, with_a_dependency)


def test_the_query_apis_catalog_search_is_dispatched_directly() -> None:
    from api.query.app import create_app
    from farmacy.settings import Settings

    stack = create_app(Settings(_env_file=None)).router.middleware_stack
    assert isinstance(stack, HotRoutes)
    assert list(stack.routes) == ["/catalog/meals"]
