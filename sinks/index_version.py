"""The index-version check: what a sink writes into the index its view's alias points at.

An index of the mapping version the code was written for takes the view's documents as built. An index of an older
version takes them too when the change between the two is additive (sinks/mapping_compat.projection_onto): the
documents leave out the fields the index lacks. That is the expand step of a view change and the rollback window
(docs/changing-a-view.md): the view keeps advancing on the older index until `farmacy rollout VIEW` swaps to a new
one, and after `farmacy rollback VIEW` swaps back. Any other older index is a deploy error, waited out like an outage
(paused until a rollout or rebuild gives the alias an index the code can write), not a reason to dead-letter. The
alias's mapping is read again at most every INDEX_CHECK_EVERY_S.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from sinks.errors import DeployError, RetryableError
from sinks.mapping_compat import projection_onto
from sinks.view import View

INDEX_CHECK_EVERY_S = 10.0
log = structlog.get_logger("index_version")


def mapping_version(mappings: dict[str, Any]) -> int:
    return int(mappings.get("_meta", {}).get("index_version", 0))


def writable_view(view: View, index: str, mappings: dict[str, Any]) -> View:
    """The view as it writes into ``index`` (whose ``mappings`` are given): itself for its own mapping version or a
    newer one, its projection for an older one that takes it; DeployError otherwise."""
    found = mapping_version(mappings)
    if found >= view.index_version:
        return view
    left_out = projection_onto(view.mapping["mappings"], mappings)
    if left_out is None:
        raise DeployError(
            f"alias {view.alias!r} points at {index} (mapping version {found}); this code writes version "
            f"{view.index_version}: run `farmacy rollout {view.name}` (or `farmacy rebuild {view.name}`)"
        )
    return view.projected(left_out)


def alias_view(es: Elasticsearch, view: View) -> View:
    """The view as it writes into the index its alias points at now (reconciliation compares against that)."""
    mappings = es.indices.get_mapping(index=view.alias).body
    index, body = next(iter(mappings.items()))
    return writable_view(view, index, body.get("mappings", {}))


class IndexVersionCheck:
    def __init__(self) -> None:
        self.checked_until = 0.0  # the alias's mapping version is checked again after this (monotonic clock)
        self.writing: View | None = None  # the view as the alias's index takes it, found by the last check
        self.index = ""  # the index that check found

    def forget(self) -> None:
        """The next ``check`` asks Elasticsearch again (the alias may have moved to another index)."""
        self.checked_until = 0.0

    def check(self, es: Elasticsearch, view: View) -> View:
        """The view as the alias's index takes it (the view, or its projection onto an older mapping); raises
        DeployError when the alias is missing or points at an index the code cannot write."""
        now = time.monotonic()
        if now < self.checked_until and self.writing is not None:
            return self.writing
        try:
            mappings = es.indices.get_mapping(index=view.alias).body
        except NotFoundError as exc:
            raise DeployError(f"index or alias {view.alias!r} is missing") from exc
        except (TransportError, ApiError) as exc:
            raise RetryableError(f"elasticsearch unavailable: {exc}") from exc
        index, body = next(iter(mappings.items()))  # an alias the sinks write through has one index
        if self.writing is None or index != self.index:
            self.writing = writable_view(view, index, body.get("mappings", {}))
            self.index = index
            if self.writing is not view:
                log.info("writing an index of an older mapping version", alias=view.alias, index=index)
        self.checked_until = now + INDEX_CHECK_EVERY_S
        return self.writing
