from __future__ import annotations

from typing import Annotated

from elasticsearch import AsyncElasticsearch
from fastapi import Depends, Request


def es_client(request: Request) -> AsyncElasticsearch:
    return request.app.state.es  # type: ignore[no-any-return]


Es = Annotated[AsyncElasticsearch, Depends(es_client)]
