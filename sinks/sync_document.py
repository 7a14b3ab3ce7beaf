"""A view's sync document, worked out: pure functions over its fields (farmacy/consistency.py names them).

Several workers share a view's partitions, so no worker knows the view's position alone. Each publishes what its
own partitions have reached ("topic[partition]" -> X in the document's partitions), and the view's position is the
lowest X over every partition of the view's topics, capped below the oldest hold, never lowered. A partition nobody
has reported yet (just added, or its worker not started) keeps the position where it is. sinks/watermark.py writes
the document by compare-and-set, each change made with ``sync_document``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from farmacy.consistency import SyncDocument as F
from farmacy.consistency import format_token

Partition = tuple[str, int]


def sync_document(
    current: dict[str, Any],
    view: str,
    index: str,
    expected: list[str],
    reached: dict[str, int],
    hold: dict[str, Any] | None = None,
    release: str | None = None,
    worker: str | None = None,
    counts: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The view's sync document after one worker's change: what its partitions reached (never lowered), a hold
    added or released, its counters; and the view's position worked out again: the lowest position over
    ``expected`` (every partition of the view's topics), capped below the oldest hold, never lowered, and not set
    at all while a partition has no position yet."""
    partitions = {str(k): int(v) for k, v in (current.get(F.PARTITIONS) or {}).items()}
    for key, lsn in reached.items():
        partitions[key] = max(partitions.get(key, 0), lsn)
    holds = held(current)
    if hold is not None:
        holds[str(hold[F.HOLD_AT])] = int(hold[F.HOLD_LSN])
    if release is not None:
        holds.pop(release, None)
    workers = dict(current.get(F.WORKERS) or {})
    if worker is not None and counts is not None:
        workers[worker] = counts
    doc: dict[str, Any] = {
        **{k: v for k, v in current.items() if k in (F.APPLIED_LSN, F.APPLIED_LSN_INT, F.APPLIED_AT, F.CONTROL)},
        F.VIEW: view,
        F.INDEX: index,
        F.PARTITIONS: partitions,
        F.HOLDS: [{F.HOLD_AT: at, F.HOLD_LSN: lsn} for at, lsn in sorted(holds.items())],
        F.WORKERS: workers,
        F.EVENTS: sum(int(w.get(F.EVENTS, 0)) for w in workers.values()),
        F.DEAD_LETTERS: sum(int(w.get(F.DEAD_LETTERS, 0)) for w in workers.values()),
    }
    if not expected or any(p not in partitions for p in expected):
        return doc
    position = min(partitions[p] for p in expected)
    if holds:
        position = min(position, min(holds.values()) - 1)
    if position > 0 and position > int(doc.get(F.APPLIED_LSN_INT) or 0):
        doc.update(
            {
                F.APPLIED_LSN_INT: position,
                F.APPLIED_LSN: format_token(position),
                F.APPLIED_AT: datetime.now(UTC).isoformat(),
            }
        )
    return doc


def held(document: dict[str, Any]) -> dict[str, int]:
    """The document's holds: unresolved dead letter ("topic[partition]@offset") -> its WAL position."""
    return {str(h[F.HOLD_AT]): int(h[F.HOLD_LSN]) for h in document.get(F.HOLDS) or []}


def partition_key(partition: Partition) -> str:
    return f"{partition[0]}[{partition[1]}]"


def partition_of(key: str) -> Partition:
    """The inverse of partition_key."""
    topic, _, rest = key.rpartition("[")
    return topic, int(rest.rstrip("]"))
