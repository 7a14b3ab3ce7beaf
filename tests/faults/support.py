"""What every fault test checks after its fault: nothing dead-lettered that should not be, nothing stale, no drift,
and no supervised process exited that the test did not kill or stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.reconcile import reconcile
from ops.status import topic_ends
from sinks.bootstrap import dead_letter_topic, read_pool
from sinks.views import VIEWS
from stack.lifecycle import layout_for
from tests.support.commands import active_meal, client, stocked_location
from tests.support.supervisor_log import ExitWatch


def watch_exits(stack: Settings) -> Iterator[ExitWatch]:
    """The body of the fault tests' autouse ``exits`` fixture (tests/faults/conftest.py, tests/cluster/conftest.py):
    watches supervisord's log from the start of the test and, after it and its other fixtures, fails naming every
    process that exited without the test's saying it caused that (``exits.expect(...)``). Without it a crash under a
    fault goes unseen, since supervisord restarts the process and the test sees it answer again."""
    watch = ExitWatch(layout_for(stack).supervisord_log)
    yield watch
    watch.check()


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Records ever written to each view's dead-letter topic."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    ends = topic_ends(admin, [dead_letter_topic(settings, v) for v in settings.views])
    return {v: ends[dead_letter_topic(settings, v)] for v in settings.views}


def drift(settings: Settings, es: Elasticsearch, views: list[str] | None = None) -> dict[str, int]:
    """Missing + extra + different documents per view, against the master."""
    with read_pool(settings, "fault-check") as pool:
        return {name: reconcile(pool, es, VIEWS[name]).total for name in views or list(settings.views)}


class Writer:
    """Posts a stock adjustment every ``interval`` seconds in the background; remembers the last token."""

    def __init__(self, stack: Settings, token: str, interval: float = 0.2) -> None:
        self.stack, self.token, self.interval = stack, token, interval
        self.stop = threading.Event()
        self.codes: dict[int, int] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._guarded, daemon=True)

    def _guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # the test must not pass "under load" without any load
            self.error = exc

    def _run(self) -> None:
        with client(self.stack, self.token) as admin:
            meal = active_meal(admin)
            loc = stocked_location(admin, {meal["id"]: 1})
            body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 1, "reason": "replenish"}
            while not self.stop.is_set():
                try:
                    code = admin.post("/inventory/adjustments", json=body).status_code
                except httpx.HTTPError:
                    code = 0
                self.codes[code] = self.codes.get(code, 0) + 1
                self.stop.wait(self.interval)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        if self.error is not None and exc_type is None:
            raise AssertionError(f"the background writer failed, so there was no load: {self.error!r}") from self.error
