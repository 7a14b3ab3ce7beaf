"""Query parameters read as one model (api/query/params.py): the same values, rules, 422 problem+json and OpenAPI
parameters as FastAPI's own parameter handling gives."""

from __future__ import annotations

from enum import StrEnum

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import Field

from api.common.problems import install_problem_handlers
from api.query.params import QueryModel, documented
from api.query.routers.catalog import CatalogParams
from farmacy import consistency


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class Params(QueryModel):
    colours: list[Colour] = Field([], description="Any of these")
    size: int = Field(20, ge=1, le=100)
    q: str | None = Field(None, max_length=5)


def _client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things", openapi_extra=documented(Params))
    async def things(request: Request) -> dict[str, object]:
        return Params.of(request).model_dump(mode="json")

    return TestClient(app)


def test_values_are_read_as_fastapi_reads_them() -> None:
    with _client() as http:
        r = http.get("/things?colours=red&colours=blue&size=5&size=7&unknown=1")
    assert r.status_code == 200
    # a list takes every value of a repeated parameter, any other field the last one; unknown ones are ignored
    assert r.json() == {"colours": ["red", "blue"], "size": 7, "q": None}


def test_a_broken_rule_is_422_problem_json_naming_each_field_and_rule() -> None:
    with _client() as http:
        r = http.get("/things?colours=green&size=0&q=toolong")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = {(e["field"], e["rule"]) for e in r.json()["errors"]}
    assert errors == {("colours.0", "enum"), ("size", "greater_than_equal"), ("q", "string_too_long")}


def test_the_openapi_document_lists_the_model_as_query_parameters_with_inlined_schemas() -> None:
    with _client() as http:
        op = http.get("/openapi.json").json()["paths"]["/things"]["get"]
    by_name = {p["name"]: p for p in op["parameters"]}
    assert list(by_name) == ["colours", "size", "q", consistency.HEADER]
    assert by_name["colours"]["in"] == "query" and by_name["colours"]["description"] == "Any of these"
    assert by_name["colours"]["schema"]["items"]["enum"] == ["red", "blue"]  # no $ref left to resolve
    assert by_name["size"]["schema"]["minimum"] == 1 and by_name["size"]["schema"]["maximum"] == 100
    assert by_name[consistency.HEADER]["in"] == "header"


def test_the_catalog_search_declares_the_token_query_parameter_with_its_pattern() -> None:
    parameters = {p["name"]: p for p in documented(CatalogParams)["parameters"]}
    token = parameters[consistency.FIELD]["schema"]["anyOf"][0]
    assert token["pattern"] == consistency.PATTERN
