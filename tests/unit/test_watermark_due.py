"""When the sink's poll must return to observe the slot (``Watermark.due_in``): never at once while no partition is
assigned, or the consume loop spins (it did, at 0.1-0.3 cores per worker, through a Kafka outage)."""

from __future__ import annotations

import time
from typing import Any

from sinks.watermark import Watermark


def _watermark() -> Watermark:
    none: Any = None
    return Watermark("inventory", "inventory", none, none, lambda: none, none, "slot", "farmacy-sync", interval_s=0.1)


def test_nothing_is_due_while_no_partition_is_assigned() -> None:
    wm = _watermark()
    assert wm.due_in() == 0.1
    wm.mark_applied({})  # asks for an observation, but there is nothing to observe
    assert wm.due_in() == 0.1


def test_an_observation_is_due_at_once_after_an_apply_and_at_the_interval_otherwise() -> None:
    wm = _watermark()
    wm.positions[("farmacy.inventory.stock", 0)] = 5
    wm._last_observed = time.monotonic()
    assert 0 < wm.due_in() <= 0.1
    wm.mark_applied({("farmacy.inventory.stock", 0): 6})
    assert wm.due_in() == 0.0
