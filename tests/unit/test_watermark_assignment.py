"""A batch gathered across a rebalance may hold records of a partition revoked meanwhile (``Watermark.mark_applied``).
Recording that partition's position kept it below every later observation's end offset: the worker never published
again (two catalog workers, a rebalance during the convergence test's workload)."""

from __future__ import annotations

from typing import Any

from confluent_kafka import TopicPartition

from sinks.health import watermark_progress
from sinks.watermark import Pending, Watermark

STOCK = "farmacy.inventory.stock"


def _watermark() -> Watermark:
    none: Any = None
    return Watermark("catalog", "catalog", none, none, lambda: none, none, "slot", "farmacy-sync", interval_s=0.1)


def test_a_revoked_partition_in_a_late_batch_is_not_recorded() -> None:
    wm = _watermark()
    wm.positions = {(STOCK, 0): 10, (STOCK, 1): 20}
    wm.on_revoke([TopicPartition(STOCK, 0), TopicPartition(STOCK, 1)])
    wm.positions = {(STOCK, 0): 10}  # assigned again: partition 0 only
    wm.mark_applied({(STOCK, 0): 12, (STOCK, 1): 25})  # the batch fetched before the rebalance
    assert wm.positions == {(STOCK, 0): 12}


def test_an_observation_waits_only_for_partitions_still_assigned() -> None:
    wm = _watermark()
    wm.positions = {(STOCK, 0): 10}
    wm.mark_applied({(STOCK, 1): 25})
    # Partition 1 belongs to another worker, which has committed through its end: the observation is applied through.
    wm._others = {(STOCK, 1): 30}
    assert wm._applied_through(Pending(100, {(STOCK, 0): 10, (STOCK, 1): 30}).ends)


def test_the_health_report_names_the_partitions_the_oldest_observation_waits_for() -> None:
    wm = _watermark()
    wm.positions = {(STOCK, 0): 10}
    wm._others = {(STOCK, 1): 25}
    wm._last_lsn = 100
    wm.pending.append(Pending(100, {(STOCK, 0): 12, (STOCK, 1): 25}))
    progress = watermark_progress(wm)
    assert progress["oldest_pending_lsn"] == 100
    assert progress["oldest_pending_waits_for"] == {f"{STOCK}[0]": [10, 12]}
    assert progress["assigned_partitions"] == 1
