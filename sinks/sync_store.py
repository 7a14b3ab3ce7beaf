"""A view's sync document in the sync index, changed by compare-and-set.

Several workers of a view write the same document, so every change is a compare-and-set: read it, change it, write
it only if nobody wrote in between (its sequence number and primary term), else again. The document as this worker
last wrote it is kept with its sequence number: the next change tries it without reading it first, and reads it only
when another worker wrote in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError, TransportError

from sinks.errors import RetryableError

CAS_ATTEMPTS = 50
Document = dict[str, Any]


class SyncStore:
    def __init__(self, es: Elasticsearch, sync_index: str, view: str) -> None:
        self.es, self.sync_index, self.view = es, sync_index, view
        # The sync document as this worker last wrote it, with its sequence number.
        self._last_written: tuple[Document, dict[str, Any]] | None = None
        # The document as it stood at the last successful change, and when (time.monotonic()): a write that nobody
        # raced is as good as a read, so a reader of the document (sinks/control.py) need not read it again.
        self.seen: Document | None = None
        self.seen_at = float("-inf")

    def change(self, change: Callable[[Document], Document]) -> Document:
        """Writes ``change(current)`` over the current document by compare-and-set, and returns what was written.
        An outage (RetryableError) if Elasticsearch cannot take it, or after CAS_ATTEMPTS conflicts in a row."""
        for _ in range(CAS_ATTEMPTS):
            try:
                if self._last_written is not None:  # as this worker wrote it: right unless another wrote since
                    current, guard = self._last_written
                    self._last_written = None
                else:
                    try:
                        found = self.es.get(index=self.sync_index, id=self.view)
                        current, guard = (
                            dict(found["_source"]),
                            {"if_seq_no": found["_seq_no"], "if_primary_term": found["_primary_term"]},
                        )
                    except NotFoundError:
                        current, guard = {}, {"op_type": "create"}
                new = change(current)
                written = self.es.index(index=self.sync_index, id=self.view, document=new, **guard)
                self._last_written = (
                    new,
                    {"if_seq_no": written["_seq_no"], "if_primary_term": written["_primary_term"]},
                )
                self.seen, self.seen_at = new, time.monotonic()
                return new
            except ConflictError:
                continue  # another worker of the view wrote in between: read it again
            except (ApiError, TransportError) as exc:
                raise RetryableError(f"sync document of {self.view} not updated in {self.sync_index}: {exc}") from exc
        raise RetryableError(f"sync document of {self.view}: {CAS_ATTEMPTS} concurrent writes in a row")
