"""Prometheus metrics of the sink workers, labelled by view."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("farmacy_sink_events_total", "Change events consumed", ["view", "table", "op"])
BATCHES = Counter("farmacy_sink_batches_total", "Batches applied", ["view"])
DOCS = Counter("farmacy_sink_documents_total", "Bulk actions by outcome", ["view", "outcome"])
RETRIES = Counter("farmacy_sink_retries_total", "Batch retries by kind", ["view", "kind"])
DEAD_LETTERS = Counter("farmacy_sink_dead_letters_total", "Events sent to the dead-letter topic", ["view"])
REBUILD_SECONDS = Histogram("farmacy_sink_rebuild_seconds", "Time to rebuild a batch from the master", ["view"])
REFRESHES = Counter("farmacy_sink_refreshes_total", "Refreshes of the view's index before a publication", ["view"])
BULK_SECONDS = Histogram("farmacy_sink_bulk_seconds", "Time of the _bulk request of a batch", ["view"])
APPLIED_LSN = Gauge("farmacy_sink_applied_lsn", "WAL position of the newest snapshot applied", ["view"])
LAST_APPLIED = Gauge("farmacy_sink_last_applied_timestamp_seconds", "When a batch was last applied", ["view"])
LAG = Gauge(
    "farmacy_sink_consumer_lag", "Records not yet consumed, per topic partition", ["view", "topic", "partition"]
)
DEGRADED = Gauge("farmacy_sink_degraded", "1 while the worker is retrying an outage of a dependency", ["view"])
WATERMARK_LSN = Gauge("farmacy_sink_watermark_lsn", "WAL position the view has fully applied (published)", ["view"])
WATERMARK_AT = Gauge(
    "farmacy_sink_watermark_timestamp_seconds", "When the view last published a newer applied position", ["view"]
)
# Where a change's time goes, from its transaction's commit in the master (source.ts_ms) to: the capture producing
# its record (the record's Kafka timestamp), this worker consuming it, and the view applying it (bulk answered).
# One host's clocks, or NTP's skew between hosts; a negative age counts as 0.
EVENT_AGE = Histogram(
    "farmacy_sink_event_age_seconds",
    "Seconds from a change's commit in the master to a stage: produced, consumed, applied",
    ["view", "stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
)
