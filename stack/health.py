"""Health checks of each component, shared by `farmacy up` (to wait) and `farmacy status` (to show)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
from confluent_kafka.admin import AdminClient
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from farmacy.connect import ConnectClient, is_running
from farmacy.settings import Settings
from stack import postgres
from stack.progress import say

POLL_S = 0.5


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


def _guard(check: Callable[[], Health]) -> Health:
    try:
        return check()
    except Exception as exc:
        return Health(False, f"{type(exc).__name__}: {str(exc)[:160]}")


def postgres_health(settings: Settings) -> Health:
    def check() -> Health:
        wal_level = postgres.ping(settings)
        return Health(wal_level == "logical", f"wal_level={wal_level}")

    return _guard(check)


def kafka_health(settings: Settings) -> Health:
    def check() -> Health:
        admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "socket.timeout.ms": 3000})
        md = admin.list_topics(timeout=3)
        return Health(
            len(md.brokers) >= settings.kafka_brokers,
            f"{len(md.brokers)} of {settings.kafka_brokers} broker(s), {len(md.topics)} topics",
        )

    return _guard(check)


def elasticsearch_health(settings: Settings) -> Health:
    def check() -> Health:
        body = _first_answer([f"{url}/_cluster/health" for url in settings.elasticsearch_urls])
        nodes = int(body["number_of_data_nodes"])
        return Health(
            body["status"] in ("green", "yellow") and nodes >= settings.elasticsearch_nodes,
            f"cluster {body['status']}, {nodes} of {settings.elasticsearch_nodes} data node(s)",
        )

    return _guard(check)


def _first_answer(urls: list[str]) -> dict[str, Any]:
    """The JSON of the first URL that answers: any node speaks for the cluster."""
    for url in urls[:-1]:
        try:
            return cast(dict[str, Any], httpx.get(url, timeout=3).raise_for_status().json())
        except httpx.TransportError:
            continue
    return cast(dict[str, Any], httpx.get(urls[-1], timeout=3).raise_for_status().json())


def connect_health(settings: Settings, connector: str | None = None) -> Health:
    def check() -> Health:
        client = ConnectClient(settings.connect_urls, timeout=3)
        try:
            version = client.info()["version"]
            if connector is None:
                return Health(True, f"Kafka Connect {version}")
            status = client.status(connector)
        finally:
            client.close()
        if status is None:
            return Health(False, f"Kafka Connect {version}; connector {connector} not registered")
        tasks = ", ".join(f"task {t['id']} {t['state']}" for t in status.get("tasks", [])) or "no tasks"
        return Health(is_running(status), f"{connector}: {status['connector']['state']} ({tasks})")

    return _guard(check)


def http_health(url: str, serving_is_enough: bool = False) -> Health:
    """200 is healthy. A service that answers 503 with its problems (a sink waiting out an outage, or held by
    dead letters) is running but degraded: unhealthy, with the problems as detail, unless ``serving_is_enough``
    (start-up only waits for the process to serve)."""

    def check() -> Health:
        resp = httpx.get(url, timeout=3)
        if resp.status_code == 200:
            return Health(True, f"{url} -> 200")
        try:
            problems = resp.json().get("problems") or []
        except ValueError:
            problems = []
        if problems:
            return Health(serving_is_enough, "degraded: " + "; ".join(str(p) for p in problems)[:200])
        return Health(False, f"{url} -> {resp.status_code}")

    return _guard(check)


def wait_healthy(what: str, probe: Callable[[], Health], timeout: float) -> Health:
    started = time.monotonic()
    waiting = Retrying(
        stop=stop_after_delay(timeout), wait=wait_fixed(POLL_S), retry=retry_if_result(lambda h: not h.ok)
    )
    try:
        last: Health = waiting(probe)
    except RetryError as exc:
        detail = exc.last_attempt.result().detail
        raise TimeoutError(f"{what} not healthy after {timeout:.0f}s: {detail}") from None
    say(f"{what} healthy after {time.monotonic() - started:.1f}s ({last.detail})")
    return last


def prometheus_health(settings: Settings) -> Health:
    """Ready, and sending alerts to an Alertmanager (the one of this stack's config)."""

    def check() -> Health:
        httpx.get(f"{settings.prometheus_url}/-/ready", timeout=3).raise_for_status()
        body = httpx.get(f"{settings.prometheus_url}/api/v1/targets", timeout=3).raise_for_status().json()
        targets = body["data"]["activeTargets"]
        up = sum(t["health"] == "up" for t in targets)
        managers = httpx.get(f"{settings.prometheus_url}/api/v1/alertmanagers", timeout=3).json()
        active = len(managers["data"]["activeAlertmanagers"])
        return Health(active > 0, f"{up}/{len(targets)} targets up, {active} alertmanager(s)")

    return _guard(check)


def alertmanager_health(settings: Settings) -> Health:
    def check() -> Health:
        httpx.get(f"{settings.alertmanager_url}/-/ready", timeout=3).raise_for_status()
        alerts = httpx.get(f"{settings.alertmanager_url}/api/v2/alerts", timeout=3).raise_for_status().json()
        return Health(True, f"{len(alerts)} alert(s) active")

    return _guard(check)


def reload_monitoring(settings: Settings) -> None:
    """Prometheus and Alertmanager re-read their config files (rendered again by every `farmacy up`)."""
    for url in (settings.prometheus_url, settings.alertmanager_url):
        httpx.post(f"{url}/-/reload", timeout=10).raise_for_status()
