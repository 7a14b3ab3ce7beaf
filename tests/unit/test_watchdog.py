from __future__ import annotations

from typing import Any

from ops.watchdog import BASE_BACKOFF_S, MAX_BACKOFF_S, Restart, Watchdog


def status(connector: str = "RUNNING", *tasks: str) -> dict[str, Any]:
    return {"connector": {"state": connector}, "tasks": [{"id": i, "state": s} for i, s in enumerate(tasks)]}


def test_running_connector_needs_nothing() -> None:
    assert Watchdog().decide("c", status("RUNNING", "RUNNING"), 0) == []


def test_failed_task_is_restarted_then_backs_off_exponentially() -> None:
    dog, failed = Watchdog(), status("RUNNING", "RUNNING", "FAILED")
    assert dog.decide("c", failed, 0) == [Restart("task:1")]
    assert dog.decide("c", failed, BASE_BACKOFF_S - 1) == []  # still backing off
    assert dog.decide("c", failed, BASE_BACKOFF_S) == [Restart("task:1")]
    assert dog.decide("c", failed, BASE_BACKOFF_S + 2 * BASE_BACKOFF_S - 1) == []
    assert dog.decide("c", failed, 3 * BASE_BACKOFF_S) == [Restart("task:1")]


def test_backoff_is_capped() -> None:
    dog, failed, now = Watchdog(), status("FAILED", "FAILED"), 0.0
    for _ in range(20):
        if dog.decide("c", failed, now):
            now = dog.backoffs["c"].next_at
    assert dog.backoffs["c"].next_at - now <= MAX_BACKOFF_S


def test_failed_connector_and_tasks_are_all_restarted() -> None:
    assert Watchdog().decide("c", status("FAILED", "FAILED", "RUNNING"), 0) == [Restart("connector"), Restart("task:0")]


def test_recovery_resets_the_backoff_and_failing_since() -> None:
    dog = Watchdog()
    dog.decide("c", status("RUNNING", "FAILED"), 10)
    assert dog.backoffs["c"].failing_since == 10
    dog.decide("c", status("RUNNING", "RUNNING"), 20)
    assert dog.backoffs["c"].attempts == 0 and dog.backoffs["c"].failing_since is None
    assert dog.decide("c", status("RUNNING", "FAILED"), 21) == [Restart("task:0")]  # no leftover backoff
