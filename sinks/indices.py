"""Creates a view's versioned index from its mapping file and points its alias at it, when missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import structlog
from elasticsearch import ApiError, Elasticsearch

from sinks.view import View

log = structlog.get_logger("indices")


def index_settings(settings: dict[str, Any], replicas: int) -> dict[str, Any]:
    """A mapping file's index settings with the stack's replica count (0 on one node, 1 on the cluster profile)."""
    return {**settings, "number_of_replicas": replicas}


# Index settings that change on a live index without a reindex: an index created by an earlier release or under
# another profile gets the mapping file's (and the stack's replica count).
DYNAMIC_SETTINGS = ("number_of_replicas", "refresh_interval")


def _keep_dynamic_settings(es: Elasticsearch, index: str, settings: dict[str, Any], replicas: int) -> None:
    wanted = {k: str(v) for k, v in index_settings(settings, replicas).items() if k in DYNAMIC_SETTINGS}
    current = es.indices.get_settings(index=index).body[index]["settings"]["index"]
    changed = {k: v for k, v in wanted.items() if str(current.get(k)) != v}
    if changed:
        es.indices.put_settings(index=index, settings={"index": changed})
        log.info("index settings changed", index=index, settings=changed)


def ensure_index(es: Elasticsearch, view: View, replicas: int = 0) -> str:
    """Returns the index the view's alias points at, creating `<view>-v<N>` and the alias if needed."""
    if es.indices.exists_alias(name=view.alias):
        target = str(next(iter(es.indices.get_alias(name=view.alias).body)))
        _keep_dynamic_settings(es, target, view.mapping["settings"], replicas)
        return target
    mapping = view.mapping
    try:
        es.indices.create(
            index=view.index_name,
            settings=index_settings(mapping["settings"], replicas),
            mappings=mapping["mappings"],
            aliases={view.alias: {"is_write_index": True}},
        )
        log.info("index created", index=view.index_name, alias=view.alias)
    except ApiError as exc:
        if exc.meta.status != 400 or "resource_already_exists" not in str(exc):
            raise
        es.indices.put_alias(index=view.index_name, name=view.alias, is_write_index=True)
    return view.index_name


def ensure_sync_index(es: Elasticsearch, name: str, replicas: int = 0) -> None:
    """The index where each view publishes the WAL position it has fully applied."""
    mapping = json.loads((Path(__file__).with_name("sync_mapping.json")).read_text())
    if es.indices.exists(index=name):
        # Fields added since the index was created (additive only, so this is safe on a live index).
        es.indices.put_mapping(index=name, properties=mapping["mappings"]["properties"])
        _keep_dynamic_settings(es, name, mapping["settings"], replicas)
        return
    try:
        es.indices.create(
            index=name, settings=index_settings(mapping["settings"], replicas), mappings=mapping["mappings"]
        )
    except ApiError as exc:
        if "resource_already_exists" not in str(exc):
            raise
