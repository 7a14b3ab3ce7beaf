"""Operations wherever the workers run: under 100 stock changes a second, a replay of the catalog view from 10 minutes
ago (from its topics' first records on a younger stack) and a blue/green rebuild of the inventory view are carried out
by the running workers themselves, with no call to supervisord or docker compose (both made to fail for the test),
and end with zero drift, no document version going back, and no read with a consistency token answered stale. Scale
needs no such call either: the count is recorded, and the platform (here the local stack's scaler) follows it."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from elasticsearch import Elasticsearch

from benchmarks.sync_load import STOCK_SQL
from farmacy.settings import Settings
from ops.bluegreen import current_index, rebuild_view
from ops.control import WorkersPause, set_worker_count
from ops.replay import replay_view
from sinks.bootstrap import read_pool
from sinks.views import VIEWS
from stack import lifecycle, scale
from tests.faults.support import drift
from tests.support.api import command_client, query_client
from tests.support.commands import active_meal, stocked_location
from tests.support.views import current_lsn, es_client, wait_applied
from tests.support.wait import wait_until
from tests.support.workload import assert_no_regression, versions

pytestmark = pytest.mark.e2e
RATE = 100.0  # stock changes per second
REPLAYED, REBUILT, SCALED = "catalog", "inventory", "orders"


class NoPlatformCall(AssertionError):
    """An operation called supervisord or docker compose."""


@pytest.fixture
def no_platform_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any supervisord client (ops/workers.py, stack/supervisor.py) or subprocess (docker compose) fails."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise NoPlatformCall("an operation called supervisord or docker compose")

    monkeypatch.setattr("supervisor.xmlrpc.SupervisorTransport.__init__", refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


class StockLoad:
    """``RATE`` stock replenishments a second straight into the master (as the command side writes them)."""

    def __init__(self, stack: Settings, rows: list[tuple[str, str]]) -> None:
        self.stack, self.rows = stack, rows
        self.done = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._guarded, daemon=True)

    def _guarded(self) -> None:
        try:
            with psycopg.connect(self.stack.pg_dsn, autocommit=True) as conn:
                start = time.monotonic()
                while not self.stop.is_set():
                    loc, meal = self.rows[self.done % len(self.rows)]
                    conn.execute(STOCK_SQL, {"d": 1, "l": loc, "m": meal})
                    self.done += 1
                    self.stop.wait(max(0.0, start + self.done / RATE - time.monotonic()))
        except BaseException as exc:  # the test must not pass "under load" without any load
            self.error = exc


class TokenReader:
    """Writes through the command API and reads each write back with its token from both views: a 200 must show the
    write (or something newer); a 503 (not there yet) is allowed, a stale 200 is recorded."""

    def __init__(self, stack: Settings, token: str, loc: str, meal: str, on_hand: int) -> None:
        self.stack, self.token, self.loc, self.meal, self.on_hand = stack, token, loc, meal, on_hand
        self.stale: list[str] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._guarded, daemon=True)

    def _guarded(self) -> None:
        try:
            with command_client(self.stack, self.token) as cmd, query_client(self.stack, self.token) as query:
                etag = '"2"'  # created, then published
                i = 0
                while not self.stop.is_set():
                    i += 1
                    etag = self._round(cmd, query, i, etag)
        except BaseException as exc:
            self.error = exc

    def _round(self, cmd: httpx.Client, query: httpx.Client, i: int, etag: str) -> str:
        body = {"location_id": self.loc, "meal_id": self.meal, "delta": 1, "reason": "replenish"}
        r = cmd.post("/inventory/adjustments", json=body)
        assert r.status_code == 201, r.text
        self.on_hand += 1
        got = self._read(query, f"/inventory/locations/{self.loc}", r)
        if got is not None:
            seen = next((s["on_hand"] for s in got["stock"] if s["meal_id"] == self.meal), None)
            if seen is None or seen < self.on_hand:
                self.stale.append(f"inventory: on_hand {seen} read with the token of on_hand {self.on_hand}")
        price = 1000 + i
        r = cmd.patch(f"/catalog/meals/{self.meal}", json={"price_cents": price}, headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        got = self._read(query, f"/catalog/meals/{self.meal}", r)
        if got is not None and got.get("price_cents") != price:
            self.stale.append(f"catalog: price {got.get('price_cents')} read with the token of price {price}")
        return str(r.headers["ETag"])

    def _read(self, query: httpx.Client, path: str, write: httpx.Response) -> Any:
        resp = query.get(path, headers={"X-Consistency-Token": write.headers["X-Consistency-Token"]})
        self.statuses[resp.status_code] = self.statuses.get(resp.status_code, 0) + 1
        assert resp.status_code in (200, 503), f"{path}: {resp.status_code} {resp.text[:200]}"
        return resp.json() if resp.status_code == 200 else None


@contextlib.contextmanager
def _running(*threads: StockLoad | TokenReader) -> Iterator[None]:
    for t in threads:
        t.thread.start()
    try:
        yield
    finally:
        for t in threads:
            t.stop.set()
            t.thread.join(30)
    for t in threads:
        if t.error is not None:
            raise AssertionError(f"{type(t).__name__} failed: {t.error!r}") from t.error


def test_scale_is_followed_by_the_platform_with_no_platform_call(stack: Settings, no_platform_calls: None) -> None:
    """`farmacy scale` records the count in the view's sync document; every worker reports it at /control (what
    Kubernetes' KEDA follows) and the local stack's scaler runs that many workers: the operation itself calls neither
    supervisord nor compose."""
    es = es_client(stack)
    before = scale.workers(stack, lifecycle.layout_for(stack))[SCALED]
    wanted = 2 if before != 2 else 1

    def reported() -> set[int]:
        ports = [stack.sink_port(SCALED, i) for i in range(wanted)]
        return {int(httpx.get(f"http://127.0.0.1:{p}/control", timeout=5).json()["workers"]) for p in ports}

    try:
        set_worker_count(stack, es, SCALED, wanted)
        lifecycle.wait_scaled(stack, SCALED, wanted)
        wait_until(lambda: reported() == {wanted}, 30, "every worker to report the count asked for", interval=0.5)
    finally:
        set_worker_count(stack, es, SCALED, before)
        lifecycle.wait_scaled(stack, SCALED, before)
    es.close()


def test_replay_and_rebuild_under_load_need_no_platform_call(
    stack: Settings, admin_token: str, no_platform_calls: None
) -> None:
    es: Elasticsearch = es_client(stack)
    with command_client(stack, admin_token) as admin:
        meals = [active_meal(admin)["id"] for _ in range(4)]
        rows = [(stocked_location(admin, dict.fromkeys(meals, 1))["id"], m) for _ in range(3) for m in meals]
        watched_meal = active_meal(admin)["id"]
        watched_loc = stocked_location(admin, {watched_meal: 1})["id"]
    load = StockLoad(stack, rows)
    reader = TokenReader(stack, admin_token, watched_loc, watched_meal, on_hand=1)
    old_index = current_index(es, REBUILT)
    with _running(load, reader):
        time.sleep(5)  # the load under way before the operations
        before = versions(es)
        moved = replay_view(stack, REPLAYED, [], False, since=datetime.now(UTC) - timedelta(minutes=10))
        with read_pool(stack, "operations-test") as pool:
            pause = WorkersPause(stack, es, REBUILT)
            result = rebuild_view(pool, es, VIEWS[REBUILT], pause.pause, pause.resume, replicas=stack.view_replicas)
        time.sleep(5)  # the rebuilt view applying the load again, the replay catching up
    final = current_lsn(stack)
    wait_applied(es, stack, final, [REPLAYED, REBUILT], timeout=180)
    after = versions(es)
    compared = assert_no_regression({v: before[v] for v in (REPLAYED, REBUILT)}, after)
    print(
        f"\n{load.done} stock changes in the load; replay of {REPLAYED} from {len(moved)} partitions; rebuild of "
        f"{REBUILT}: {result.documents} documents; token reads {reader.statuses}; {compared} versions compared"
    )
    assert load.done > RATE * 5, "the load ran"
    assert reader.statuses.get(200, 0) > 0, "token reads were answered"
    assert reader.stale == []
    assert result.new_index != old_index and current_index(es, REBUILT) == result.new_index
    assert drift(stack, es, [REPLAYED, REBUILT]) == {REPLAYED: 0, REBUILT: 0}
    es.close()
