"""Faults under client load, seen from the APIs: a PostgreSQL restart, an Elasticsearch stop and start, and an
Elasticsearch hang (SIGSTOP of the node). Several clients keep both APIs busy (adjustments on the command API;
catalog searches, a meal, a token read and /health on the query API) while the fault lasts and until the engine
is back. Every answer must be a success or a 503 problem+json with Retry-After: no 500, and no dropped
connection or request left hanging past the clients' timeout (a hung engine answers 503 within its ~2 s bound).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from farmacy.settings import Settings
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor
from tests.faults.support import dead_letter_counts
from tests.support.commands import active_meal, adjust, client, stocked_location
from tests.support.supervisor_log import ExitWatch
from tests.support.views import es_client
from tests.support.wait import wait_until

pytestmark = pytest.mark.faults

FAULT_S = 6.0
# Longer than any bound of ours (1.5 s to Elasticsearch, 3 s for a database connection, 2 s token wait): a
# request not answered by then was left hanging.
CLIENT_TIMEOUT_S = 8.0
CLIENTS = 6
Mix = list[Callable[[httpx.Client], httpx.Response]]


class Load:
    """CLIENTS threads sending a mix of requests to both APIs until stopped; counts answers by status."""

    def __init__(self, stack: Settings, token: str, requests: Mix) -> None:
        self.stack, self.token, self.requests = stack, token, requests
        self.stop = threading.Event()
        self.codes: Counter[int] = Counter()
        self.bad: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENTS)]

    def _run(self, i: int) -> None:
        with client(self.stack, self.token) as http:
            http.timeout = httpx.Timeout(CLIENT_TIMEOUT_S)
            n = i
            while not self.stop.is_set():
                send = self.requests[n % len(self.requests)]
                n += 1
                try:
                    r = send(http)
                    code = r.status_code
                    problem = r.headers.get("content-type") == "application/problem+json"
                    # /health reports a dependency that is away with 503 and its own JSON body.
                    health = r.request.url.path == "/health" and r.json().get("status") == "unavailable"
                    ok = code < 500 or (code == 503 and (health or (problem and bool(r.headers.get("Retry-After")))))
                    if not ok:
                        self._note(f"{r.request.method} {r.request.url.path}: {code} {r.text[:200]}")
                except httpx.HTTPError as exc:  # dropped connection or no answer within the timeout
                    code = 0
                    self._note(f"{exc.request.method} {exc.request.url}: {type(exc).__name__}: {exc}")
                with self.lock:
                    self.codes[code] += 1
                time.sleep(0.05)

    def _note(self, what: str) -> None:
        with self.lock:
            self.bad.append(what)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(CLIENT_TIMEOUT_S + 5)


@pytest.fixture
def sup(stack: Settings) -> Iterator[Supervisor]:
    supervisor = Supervisor(layout_for(stack))
    yield supervisor
    for engine in ("postgres", "elasticsearch"):  # whatever happened, leave the engines running
        if supervisor.info(engine)["statename"] != "RUNNING":
            supervisor.start(engine)


@pytest.fixture
def mix(stack: Settings, admin_token: str) -> Mix:
    with client(stack, admin_token) as admin:
        meal = active_meal(admin)
        loc = stocked_location(admin, {meal["id"]: 5})
        # Read with its token: answered once the catalog has it, 503 while it has not (never stale, never 500).
        token = adjust(admin, loc["id"], meal["id"], 1, "replenish")["consistency_token"]
    query = f"http://127.0.0.1:{stack.query_port}"
    command = f"http://127.0.0.1:{stack.command_port}"
    body = {"location_id": loc["id"], "meal_id": meal["id"], "delta": 1, "reason": "replenish"}
    return [
        lambda h: h.post(f"{command}/inventory/adjustments", json=body),
        lambda h: h.get(f"{query}/catalog/meals", params={"q": "salad bowl", "size": 5}),
        lambda h: h.get(f"{query}/catalog/meals/{meal['id']}"),
        lambda h: h.get(f"{query}/catalog/meals/{meal['id']}", headers={"X-Consistency-Token": token}),
        lambda h: h.get(f"{query}/health"),
        lambda h: h.get(f"{command}/health"),
    ]


def _while_faulty(
    stack: Settings,
    admin_token: str,
    mix: Mix,
    inject: Callable[[], None],
    heal: Callable[[], None],
    healthy: Callable[[httpx.Client], bool],
) -> Load:
    with Load(stack, admin_token, mix) as load:
        time.sleep(1)
        inject()
        try:
            time.sleep(FAULT_S)
        finally:
            heal()
        with client(stack, admin_token) as http:
            # Elasticsearch takes a minute or two to start on a loaded host.
            wait_until(lambda: healthy(http), 300, "the APIs to answer again", interval=1)
        time.sleep(1)
    return load


def _query_ok(stack: Settings) -> Callable[[httpx.Client], bool]:
    return lambda h: h.get(f"http://127.0.0.1:{stack.query_port}/catalog/meals", params={"size": 1}).status_code == 200


def _assert_graceful(load: Load, name: str) -> None:
    print(f"\n{name}: answers under load {dict(sorted(load.codes.items()))}")
    assert load.bad == [], load.bad[:10]
    assert load.codes[0] == 0 and load.codes[500] == 0
    assert load.codes[503] > 0, f"the fault was not seen: {load.codes}"


def test_master_restart_under_load(
    stack: Settings, admin_token: str, sup: Supervisor, mix: Mix, exits: ExitWatch
) -> None:
    exits.expect("postgres")
    dead_before = dead_letter_counts(stack)

    def writable(h: httpx.Client) -> bool:
        return mix[0](h).status_code == 201

    load = _while_faulty(stack, admin_token, mix, lambda: sup.stop("postgres"), lambda: sup.start("postgres"), writable)
    _assert_graceful(load, "postgres restart")
    assert dead_letter_counts(stack) == dead_before


def test_elasticsearch_stop_and_start_under_load(
    stack: Settings, admin_token: str, sup: Supervisor, mix: Mix, exits: ExitWatch
) -> None:
    exits.expect("elasticsearch")
    load = _while_faulty(
        stack, admin_token, mix, lambda: sup.stop("elasticsearch"), lambda: sup.start("elasticsearch"), _query_ok(stack)
    )
    _assert_graceful(load, "elasticsearch stop/start")


def test_elasticsearch_hang_under_load(stack: Settings, admin_token: str, mix: Mix) -> None:
    es = es_client(stack)
    # The supervised program is Elasticsearch's launcher; the node is its child, which names its own pid.
    node_pid = int(next(iter(es.nodes.info(node_id="_local", metric="process")["nodes"].values()))["process"]["id"])
    es.close()
    load = _while_faulty(
        stack,
        admin_token,
        mix,
        lambda: os.kill(node_pid, signal.SIGSTOP),
        lambda: os.kill(node_pid, signal.SIGCONT),
        _query_ok(stack),
    )
    _assert_graceful(load, "elasticsearch hang")
