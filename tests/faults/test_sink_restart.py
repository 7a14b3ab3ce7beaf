"""Fault: a sink worker is killed (SIGKILL, no clean shutdown) and restarted by its supervisor.

The dead member still holds its partitions until the group notices it is gone; the restarted worker must apply
again within seconds, not after a long session timeout, so that token reads are not answered 503 meanwhile.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from farmacy.views import worker_program
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor
from tests.faults.support import drift
from tests.support.commands import active_meal, adjust, client, stocked_location
from tests.support.views import applied, es_client
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults

KILLS = int(os.environ.get("FARMACY_FAULT_KILLS", "5"))


def test_killed_sink_applies_again_within_seconds(stack: Settings, admin_token: str) -> None:
    sup = Supervisor(layout_for(stack))
    program = worker_program("inventory")
    es = es_client(stack)
    recoveries: list[float] = []
    with client(stack, admin_token) as admin:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 1})
        for _ in range(KILLS):
            pid = sup.info(program)["pid"]
            sup.kill(program)

            def restarted(old: int = pid) -> bool:
                return sup.info(program)["pid"] not in (0, old)

            wait_until(restarted, 30, f"{program} restarted")
            restarted_at = time.monotonic()
            position = lsn_int(adjust(admin, loc["id"], meal["id"], 1, "replenish")["consistency_token"])

            def caught_up(target: int = position) -> bool:
                return applied(es, stack, "inventory") >= target

            wait_until(caught_up, 120, "inventory applies again")
            recoveries.append(time.monotonic() - restarted_at)
    drifted = drift(stack, es, ["inventory"])
    es.close()
    median = statistics.median(recoveries)
    print(f"\nsink SIGKILL x{KILLS}: restart -> applied {[round(r, 1) for r in recoveries]} s, median {median:.1f} s")
    assert median <= 10, f"median restart-to-applied {median:.1f}s over {KILLS} kills: {recoveries}"
    assert drifted == {"inventory": 0}
