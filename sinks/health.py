"""A sink worker's state, and the health report made of it (served at /health by sinks/health_server.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from farmacy.lsn import lsn_text
from sinks.sync_document import partition_key
from sinks.view import View
from sinks.watermark import Watermark


@dataclass
class RunnerState:
    applied_lsn: int | None = None
    last_batch_at: float | None = None
    events: int = 0
    dead_letters: int = 0
    degraded: str | None = None  # set while retrying an outage
    deploy_error: bool = False  # the outage is a deploy error (index missing, mapping behind, schema)
    busy_since: float | None = None  # monotonic time the batch in flight started applying


def health_report(view: View, state: RunnerState, watermark: Watermark | None, stall_after_s: float) -> dict[str, Any]:
    """ok, or degraded with the reasons: an outage or deploy error being waited out, a batch in flight for too
    long (a hanging dependency), a published position that has stopped moving, dead letters holding it."""
    problems = []
    if state.degraded:
        problems.append(("deploy error: " if state.deploy_error else "outage: ") + state.degraded)
    now = time.monotonic()
    if state.busy_since is not None and now - state.busy_since > stall_after_s:
        problems.append(f"batch in flight for {now - state.busy_since:.0f}s (a dependency is not answering)")
    held: dict[str, int] = {}
    if watermark is not None:
        frozen = now - watermark.published_at
        if frozen > stall_after_s:
            problems.append(f"published position has not moved for {frozen:.0f}s")
        held = dict(watermark.holds)
        cap = watermark.cap
        if cap is not None and watermark.reached is not None and watermark.reached > cap:
            problems.append(f"{len(held)} unresolved dead letter(s) hold the published position at {lsn_text(cap)}")
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "view": view.name,
        "index": view.alias,
        "applied_lsn": lsn_text(state.applied_lsn) if state.applied_lsn else None,
        "published_lsn": lsn_text(watermark.applied) if watermark and watermark.applied else None,
        "last_batch_at": state.last_batch_at,
        "events": state.events,
        "dead_letters": state.dead_letters,
        "holds": held,
        "degraded": state.degraded,
        "watermark": watermark_progress(watermark) if watermark is not None else None,
    }


def watermark_progress(watermark: Watermark) -> dict[str, Any]:
    """Where the watermark stands, for the health report: the slot position last observed, the newest position
    fully applied and the one last published, the observations waiting for their partitions to catch up (and which
    partitions the oldest still waits for: its end offset against how far they are applied), and the assigned
    partitions whose position is not known yet. A position that stops moving says here why."""
    # Copies first: the health server's thread reads what the worker's thread changes (each copy is one call
    # into C, under the interpreter's lock).
    pending, positions, others, unknown = (
        list(watermark.pending),
        dict(watermark.positions),
        dict(watermark._others),
        set(watermark.unknown),
    )
    waiting: dict[str, list[int]] = {}
    if pending:
        for p, end in pending[0].ends.items():
            at = positions[p] if p in positions else others.get(p, 0)
            if at < end:
                waiting[partition_key(p)] = [at, end]
    return {
        "observed_lsn": watermark._last_lsn if watermark._last_lsn >= 0 else None,
        "reached_lsn": watermark.reached,
        "published_reached_lsn": watermark._published_reached or None,
        "pending": len(pending),
        "oldest_pending_lsn": pending[0].lsn if pending else None,
        "oldest_pending_waits_for": waiting,
        "unknown_partitions": sorted(partition_key(p) for p in unknown),
        "assigned_partitions": len(positions),
    }
