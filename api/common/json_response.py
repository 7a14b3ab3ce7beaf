"""A response written with orjson from a body already in its JSON shape.

A route that returns one keeps its ``response_model`` for the OpenAPI document, and FastAPI neither validates nor
re-serializes what it returns: the body must be exactly what the model would give (its fields, in its shape).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response


class JsonBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
