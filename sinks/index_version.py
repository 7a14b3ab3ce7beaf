"""The index-version check: a sink writes only into an index of the mapping version its code was written for.

A deploy that bumped a view's mapping version (``_meta.index_version`` in its mapping.json) must not write into
the index of the old mapping: that is a deploy error, waited out like an outage (paused until
`farmacy rebuild VIEW` swaps the alias to an index of the new mapping), not a reason to dead-letter. The alias's
mapping is read again at most every INDEX_CHECK_EVERY_S.
"""

from __future__ import annotations

import time

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from sinks.errors import DeployError, RetryableError
from sinks.view import View

INDEX_CHECK_EVERY_S = 10.0


class IndexVersionCheck:
    def __init__(self) -> None:
        self.checked_until = 0.0  # the alias's mapping version is checked again after this (monotonic clock)

    def check(self, es: Elasticsearch, view: View) -> None:
        """Raises DeployError when the view's alias is missing or points at an index of an older mapping version."""
        now = time.monotonic()
        if now < self.checked_until:
            return
        try:
            mappings = es.indices.get_mapping(index=view.alias).body
        except NotFoundError as exc:
            raise DeployError(f"index or alias {view.alias!r} is missing") from exc
        except (TransportError, ApiError) as exc:
            raise RetryableError(f"elasticsearch unavailable: {exc}") from exc
        for index, body in mappings.items():
            found = int(body.get("mappings", {}).get("_meta", {}).get("index_version", 0))
            if found < view.index_version:
                raise DeployError(
                    f"alias {view.alias!r} points at {index} (mapping version {found}); this code writes version "
                    f"{view.index_version}: run `farmacy rebuild {view.name}`"
                )
        self.checked_until = now + INDEX_CHECK_EVERY_S
