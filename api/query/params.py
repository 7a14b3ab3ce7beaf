"""Query parameters of the hot read routes as one pydantic model, validated in one call.

FastAPI resolves each declared query parameter on its own, with type introspection per parameter and per request:
for the catalog search's 18 parameters that was a third of the route's own Python (`benchmarks.query_inprocess`).
A route that takes its parameters as a ``QueryModel`` declares them for the OpenAPI document with
``openapi_extra=documented(Model)`` and reads them with ``Model.of(request)``: one validation by pydantic-core,
the same rules, and the same 422 problem+json naming each field (a ``RequestValidationError`` located in
``query``, as FastAPI raises it).
"""

from __future__ import annotations

import copy
import typing
from typing import Any, ClassVar, Self

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from farmacy import consistency


class QueryModel(BaseModel):
    """Base of a route's query parameters. Unknown parameters are ignored, as FastAPI ignores them; a list field
    takes every value of a repeated parameter, any other field the last one. A list is best declared as a tuple
    with the default ``()``: pydantic copies a mutable default for every model it validates."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    _lists: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._lists = frozenset(
            f.alias or name for name, f in cls.model_fields.items() if typing.get_origin(f.annotation) in (list, tuple)
        )

    @classmethod
    def of(cls, request: Request) -> Self:
        query = request.query_params
        values: dict[str, Any] = {}
        for key in query:  # the distinct keys present
            values[key] = query.getlist(key) if key in cls._lists else query[key]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**err, "loc": ("query", *err["loc"])} for err in exc.errors(include_url=False)]
            ) from None


def documented(model: type[QueryModel], header_token: bool = True) -> dict[str, Any]:
    """``openapi_extra`` for a route reading ``model``: its fields as query parameters (schemas inlined), and the
    consistency token's header."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema["properties"].items():
        prop = _inlined(prop, defs)
        parameter: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
        if "description" in prop:
            parameter["description"] = prop["description"]
        parameters.append(parameter)
    if header_token:
        description = "Token from a command response: wait until the view has it"
        parameters.append(
            {
                "name": consistency.HEADER,
                "in": "header",
                "required": False,
                "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": consistency.HEADER},
                "description": description,
            }
        )
    return {"parameters": parameters}


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]), defs)
        return {k: _inlined(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inlined(v, defs) for v in node]
    return node
