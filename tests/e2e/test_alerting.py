"""Monitoring that runs and notifies: a fault raises its alert in Prometheus, Alertmanager delivers it to the ops
API's receiver, which stores it; the console and `farmacy alerts` show it; when the fault is repaired the alert
resolves and the resolution is delivered too. Each within two minutes (the local stack evaluates every 5 s)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from farmacy.settings import Settings
from ops.alerts import active_alerts
from ops.connectors import act
from ops.workers import worker_control
from tests.support.console import console_session, farmacy_cli, notification
from tests.support.wait import wait_until

pytestmark = pytest.mark.e2e
WITHIN_S = 120


def _delivered(stack: Settings, alertname: str, status: str, since: datetime, **labels: str) -> None:
    wait_until(
        lambda: notification(stack, alertname, status, since, **labels),
        WITHIN_S,
        f"{alertname} {status} to reach the receiver",
        interval=2,
    )


def _shown(stack: Settings, alertname: str) -> None:
    console = console_session(stack)
    try:
        page = console.get("/console/part/alerts")
    finally:
        console.close()
    assert page.status_code == 200
    assert f'data-alertname="{alertname}"' in page.text
    assert alertname in farmacy_cli(stack, "alerts", "--name", alertname)


@pytest.fixture
def paused_connector(stack: Settings) -> Iterator[str]:
    act(stack, stack.connector_name, "pause")
    try:
        yield stack.connector_name
    finally:
        act(stack, stack.connector_name, "resume")


def test_connector_not_running_is_notified_shown_and_resolved(stack: Settings, paused_connector: str) -> None:
    since = datetime.now(UTC)
    _delivered(stack, "ConnectorNotRunning", "firing", since, connector=paused_connector)
    _shown(stack, "ConnectorNotRunning")
    active = farmacy_cli(stack, "alerts").split("NOTIFICATIONS")[0]
    assert "ConnectorNotRunning" in active  # still active in Alertmanager

    resumed = datetime.now(UTC)
    act(stack, paused_connector, "resume")
    _delivered(stack, "ConnectorNotRunning", "resolved", resumed, connector=paused_connector)


def _not_active(stack: Settings, alertname: str, **labels: str) -> bool:
    return not any(
        a["labels"].get("alertname") == alertname and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in active_alerts(stack)
    )


def test_stale_view_is_notified_shown_and_resolved(stack: Settings) -> None:
    # A ViewStale still active (every view goes stale while the connector is paused) would not be notified again.
    wait_until(lambda: _not_active(stack, "ViewStale", view="catalog"), WITHIN_S, "no ViewStale active", interval=2)
    workers = worker_control(stack)
    since = datetime.now(UTC)
    workers.stop("catalog")
    try:
        _delivered(stack, "ViewStale", "firing", since, view="catalog")
        _shown(stack, "ViewStale")
    finally:
        restarted = datetime.now(UTC)
        workers.start("catalog")
    _delivered(stack, "ViewStale", "resolved", restarted, view="catalog")
