"""The sync benchmark's reading of the sinks' stage histograms (benchmarks.sync_watch.stage_summary)."""

from __future__ import annotations

import math

from benchmarks.sync_watch import stage_summary


def test_counts_only_what_happened_between_the_scrapes_and_reports_bucket_bounds() -> None:
    before = {("inventory", "applied"): {0.1: 5.0, 0.5: 10.0, 1.0: 10.0, math.inf: 10.0}}
    after = {
        ("inventory", "applied"): {0.1: 55.0, 0.5: 108.0, 1.0: 109.0, math.inf: 110.0},
        ("catalog", "applied"): {0.1: 0.0, 0.5: 0.0, 1.0: 0.0, math.inf: 0.0},  # nothing happened: not reported
    }
    result = stage_summary(before, after)
    assert result == {"inventory": {"applied": {"n": 100.0, "p50_le_s": 0.1, "p99_le_s": 1.0}}}
