"""Creates a view's versioned index from its mapping file and points its alias at it, when missing."""

from __future__ import annotations

import json
from pathlib import Path

import structlog
from elasticsearch import ApiError, Elasticsearch

from sinks.view import View

log = structlog.get_logger("indices")


def ensure_index(es: Elasticsearch, view: View) -> str:
    """Returns the index the view's alias points at, creating `<view>-v<N>` and the alias if needed."""
    if es.indices.exists_alias(name=view.alias):
        targets = list(es.indices.get_alias(name=view.alias).body)
        return str(targets[0])
    mapping = view.mapping
    try:
        es.indices.create(
            index=view.index_name,
            settings=mapping["settings"],
            mappings=mapping["mappings"],
            aliases={view.alias: {"is_write_index": True}},
        )
        log.info("index created", index=view.index_name, alias=view.alias)
    except ApiError as exc:
        if exc.meta.status != 400 or "resource_already_exists" not in str(exc):
            raise
        es.indices.put_alias(index=view.index_name, name=view.alias, is_write_index=True)
    return view.index_name


def ensure_sync_index(es: Elasticsearch, name: str) -> None:
    """The index where each view publishes the WAL position it has fully applied."""
    mapping = json.loads((Path(__file__).with_name("sync_mapping.json")).read_text())
    if es.indices.exists(index=name):
        # Fields added since the index was created (additive only, so this is safe on a live index).
        es.indices.put_mapping(index=name, properties=mapping["mappings"]["properties"])
        return
    try:
        es.indices.create(index=name, settings=mapping["settings"], mappings=mapping["mappings"])
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):
            raise
