"""The ops API answers operators (and admins, who may look but not act) only, and reports the real state of views and
capture."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from farmacy.auth import Role
from farmacy.settings import Settings
from sinks.views import VIEWS
from tests.support.tokens import provider_token

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ops(stack: Settings) -> Iterator[httpx.Client]:
    token = provider_token(stack, Role.OPERATOR, "test-operator")
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ops_port}", timeout=120, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        yield client


def test_customers_and_anonymous_callers_are_refused(stack: Settings) -> None:
    import uuid

    customer = provider_token(stack, Role.CUSTOMER, "c", uuid.uuid4())
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.ops_port}", timeout=30) as http:
        assert http.get("/ops/views").status_code == 401
        assert http.get("/ops/views", headers={"Authorization": f"Bearer {customer}"}).status_code == 403


def test_admins_may_look_but_only_operators_act(stack: Settings) -> None:
    admin = provider_token(stack, Role.ADMIN, "test-admin-looking")
    with httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ops_port}", timeout=30, headers={"Authorization": f"Bearer {admin}"}
    ) as http:
        assert http.get("/ops/views").status_code == 200
        assert http.get("/ops/connectors").status_code == 200
        view = next(iter(VIEWS))
        actions = [
            http.post(f"/ops/views/{view}/dead-letters/redrive"),
            http.post(f"/ops/views/{view}/reconcile"),
            http.post(f"/ops/views/{view}/replay", json={"from_beginning": True}),
            http.put(f"/ops/views/{view}/workers", json={"workers": 1}),
            http.post(f"/ops/connectors/{stack.connector_name}/restart"),
        ]
    for r in actions:
        assert r.status_code == 403, (r.request.url, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_views_report_applied_position_lag_and_dead_letters(ops: httpx.Client) -> None:
    body = ops.get("/ops/views").json()
    assert [v["view"] for v in body] == list(VIEWS)
    for v in body:
        assert v["applied_lsn"] and v["applied_age_s"] is not None and v["applied_age_s"] < 60
        assert v["lag_total"] == sum(v["lag"].values()) and v["lag_total"] >= 0
        assert v["dead_letters"] >= 0 and v["dead_letters_current"] >= 0


def test_replication_slot_is_active_pgoutput(ops: httpx.Client) -> None:
    slot = ops.get("/ops/replication-slot").json()
    assert slot["plugin"] == "pgoutput" and slot["active"] is True and slot["lag_bytes"] >= 0


def test_connectors_are_running(ops: httpx.Client) -> None:
    (status,) = ops.get("/ops/connectors").json()
    assert status["connector"]["state"] == "RUNNING"
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"]


def test_reconcile_reports_no_drift_for_a_view(ops: httpx.Client) -> None:
    body = ops.post("/ops/views/subscriptions/reconcile").json()
    assert body["drift"] == 0 and body["master_documents"] == body["view_documents"]


def test_unknown_view_and_action_are_404_problems(ops: httpx.Client) -> None:
    r = ops.get("/ops/views/nope/dead-letters")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert ops.post("/ops/connectors/farmacy-postgres-source/explode").status_code == 404


def test_one_dead_letter_actions_name_a_letter_that_exists(ops: httpx.Client) -> None:
    for letter in ops.get("/ops/views/orders/dead-letters").json():
        assert isinstance(letter["current"], bool)
    r = ops.post("/ops/views/orders/dead-letters/0/999999999/discard")
    assert r.status_code == 404 and "no dead letter at" in r.json()["detail"]
    assert ops.post("/ops/views/orders/dead-letters/0/0/explode").status_code == 404


def test_a_worker_count_beyond_the_partitions_is_refused_and_records_nothing(
    stack: Settings, ops: httpx.Client
) -> None:
    from ops.control import worker_count
    from tests.support.views import es_client

    es = es_client(stack)
    before = worker_count(stack, es, "subscriptions")
    r = ops.put("/ops/views/subscriptions/workers", json={"workers": stack.topic_partitions + 1})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert f"{stack.topic_partitions + 1} workers for subscriptions" in r.json()["detail"]
    r = ops.put("/ops/views/subscriptions/workers", json={"workers": 0})
    assert r.status_code == 422 and "workers" in r.text, r.text
    assert worker_count(stack, es, "subscriptions") == before
    es.close()


def test_a_worker_count_is_recorded_for_the_platform_to_follow(stack: Settings, ops: httpx.Client) -> None:
    from ops.control import worker_count
    from stack import lifecycle, scale
    from tests.support.views import es_client

    running = scale.workers(stack, lifecycle.layout_for(stack))["subscriptions"]  # the same count: nothing restarts
    r = ops.put("/ops/views/subscriptions/workers", json={"workers": running})
    assert r.status_code == 200, r.text
    assert r.json() == {"view": "subscriptions", "workers": running}
    es = es_client(stack)
    assert worker_count(stack, es, "subscriptions") == running
    es.close()
