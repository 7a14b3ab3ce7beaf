"""Progress of a sink worker: how far behind it is while it catches up (a backfill, a replay, a burst), and how old
each change was when it was produced, consumed and applied (metrics.EVENT_AGE)."""

from __future__ import annotations

import time

import structlog

from farmacy.lsn import lsn_text
from sinks import metrics
from sinks.events import ChangeEvent
from sinks.watermark import Watermark

PROGRESS_EVERY_S = 5.0
STAGES = ("produced", "consumed", "applied")  # metrics.EVENT_AGE: applied means handled (applied or dead-lettered)


def observe_ages(view: str, events: list[ChangeEvent], consumed: float) -> None:
    """How old each change was when it was produced, consumed and applied (metrics.EVENT_AGE)."""
    applied = time.time()
    produced_h, consumed_h, applied_h = (metrics.EVENT_AGE.labels(view, s) for s in STAGES)
    for ev in events:
        if ev.committed_ms is None:
            continue
        at = ev.committed_ms / 1000
        if ev.produced_ms is not None:
            produced_h.observe(max(0.0, ev.produced_ms / 1000 - at))
        consumed_h.observe(max(0.0, consumed - at))
        applied_h.observe(max(0.0, applied - at))


class Progress:
    """Reports the consumer lag every PROGRESS_EVERY_S (metrics.LAG), and logs how far there is still to go while
    the worker is behind by more than a batch."""

    def __init__(self, view: str, batch_size: int, log: structlog.stdlib.BoundLogger) -> None:
        self.view, self.batch_size, self.log = view, batch_size, log
        self.next_at = time.monotonic() + PROGRESS_EVERY_S
        self.events = 0  # the worker's event count at the last report

    def tick(self, watermark: Watermark | None, events: int) -> None:
        """Reports if a report is due; ``events`` is the worker's event count so far."""
        if time.monotonic() < self.next_at:
            return
        self.report(watermark, events - self.events)
        self.events = events
        self.next_at = time.monotonic() + PROGRESS_EVERY_S

    def report(self, watermark: Watermark | None, recent_events: int) -> None:
        """While behind (a backfill, a replay, a burst), log how far there is still to go."""
        if watermark is None:
            return
        try:
            lag = watermark.lag()
        except Exception:
            return
        for (topic, partition), behind in lag.items():
            metrics.LAG.labels(self.view, topic, str(partition)).set(behind)
        behind = sum(lag.values())
        if behind > self.batch_size:  # a backfill, replay or burst, not the usual in-flight few
            rate = recent_events / PROGRESS_EVERY_S
            eta = f"{behind / rate:.0f}s" if rate else "unknown"
            self.log.info(
                "catching up",
                records_behind=behind,
                events_per_s=round(rate, 1),
                eta=eta,
                applied_lsn=lsn_text(watermark.applied) if watermark.applied else None,
            )
