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
from tests.faults.support import Writer, drift
from tests.support.commands import active_meal, adjust, client, stocked_location
from tests.support.stack import scaled
from tests.support.supervisor_log import ExitWatch
from tests.support.views import applied, current_lsn, es_client, wait_applied
from tests.support.wait import wait_until
from tests.support.workload import assert_no_regression, versions

pytestmark = pytest.mark.faults

KILLS = int(os.environ.get("FARMACY_FAULT_KILLS", "5"))


def test_killed_sink_applies_again_within_seconds(stack: Settings, admin_token: str, exits: ExitWatch) -> None:
    sup = Supervisor(layout_for(stack))
    program = worker_program("inventory")
    exits.expect(program)
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


def test_one_of_two_workers_killed_under_load_the_view_converges_and_nothing_goes_back(
    stack: Settings, admin_token: str, exits: ExitWatch
) -> None:
    """Scale-out: a view's workers share its partitions. SIGKILL one of them while writes flow: the group gives
    its partitions to the others (or to its restart), every view catches up, no document's version goes down,
    and nothing drifts."""
    with scaled(stack, ["inventory"], 2):
        _kill_one_of_two(stack, admin_token, exits)


def _kill_one_of_two(stack: Settings, admin_token: str, exits: ExitWatch) -> None:
    sup = Supervisor(layout_for(stack))
    program = worker_program("inventory")
    members = sup.members(program)
    assert len(members) >= 2, f"{program} runs {members}: this test needs two workers"
    victim = members[-1]
    exits.expect(victim)  # only it: its siblings must survive
    es = es_client(stack)
    baseline = versions(es)
    with Writer(stack, admin_token, interval=0.05) as writer:
        time.sleep(2)
        pid = sup.info(victim)["pid"]
        sup.kill(victim)
        killed_at = time.monotonic()
        wait_until(lambda: sup.info(victim)["pid"] not in (0, pid), 30, f"{victim} restarted")
        time.sleep(3)
    position = current_lsn(stack)
    wait_applied(es, stack, position, timeout=120)
    caught_up = time.monotonic() - killed_at
    compared = assert_no_regression(baseline, versions(es))
    drifted = drift(stack, es, ["inventory", "catalog"])
    es.close()
    print(
        f"\none of {len(members)} inventory workers SIGKILLed under load: writes {writer.codes}, every view at the "
        f"position after the load {caught_up:.1f} s after the kill; {compared} documents compared, none went back"
    )
    assert sum(n for code, n in writer.codes.items() if code >= 500 or code == 0) == 0, writer.codes
    assert drifted == {"inventory": 0, "catalog": 0}
