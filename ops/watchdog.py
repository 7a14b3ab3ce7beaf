"""Connector watchdog: restarts failed connectors and tasks with exponential backoff, exports their state,
and keeps a failing task visible (metric and alert) when restarts do not help.

    python -m ops.watchdog          (runs under the local stack's supervisor as `watchdog`)
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import structlog
from prometheus_client import Counter, Gauge

from farmacy.connect import ConnectClient, is_running, load_specs
from farmacy.logs import allow_core_dumps, configure_logging
from farmacy.settings import Settings

log = structlog.get_logger("watchdog")
RUNNING = Gauge("farmacy_connector_running", "1 when the connector and all its tasks are RUNNING", ["connector"])
RESTARTS = Counter("farmacy_watchdog_restarts_total", "Restarts the watchdog asked for", ["connector", "target"])
FAILING_SINCE = Gauge(
    "farmacy_connector_failing_since_seconds", "When the connector started failing (0: fine)", ["connector"]
)

BASE_BACKOFF_S = 5.0
MAX_BACKOFF_S = 300.0


@dataclass
class Backoff:
    attempts: int = 0
    next_at: float = 0.0
    failing_since: float | None = None


@dataclass(frozen=True)
class Restart:
    target: str  # "connector" or "task:<id>"


@dataclass
class Watchdog:
    """Pure decision logic: given a status, what to restart now (state carries the backoff)."""

    backoffs: dict[str, Backoff] = field(default_factory=dict)

    def decide(self, name: str, status: dict[str, Any] | None, now: float) -> list[Restart]:
        b = self.backoffs.setdefault(name, Backoff())
        failed = (
            []
            if status is None
            else [
                Restart("connector") if status["connector"]["state"] == "FAILED" else None,
                *(Restart(f"task:{t['id']}") for t in status.get("tasks", []) if t["state"] == "FAILED"),
            ]
        )
        actions = [a for a in failed if a is not None]
        if not actions:
            if b.attempts:
                log.info("connector healthy again", connector=name, after_attempts=b.attempts)
            self.backoffs[name] = Backoff()
            return []
        b.failing_since = b.failing_since or now
        if now < b.next_at:
            return []
        b.attempts += 1
        b.next_at = now + min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** (b.attempts - 1))
        return actions


def run(settings: Settings, stop: threading.Event, interval_s: float = 5.0) -> None:
    client = ConnectClient(settings.connect_urls)
    dog = Watchdog()
    while not stop.is_set():
        for spec in load_specs(settings):
            try:
                status = client.status(spec.name)
            except Exception as exc:
                log.warning("connect unreachable", error=str(exc)[:200])
                RUNNING.labels(spec.name).set(0)
                continue
            running = status is not None and is_running(status)
            RUNNING.labels(spec.name).set(1 if running else 0)
            for action in dog.decide(spec.name, status, time.time()):
                RESTARTS.labels(spec.name, action.target.split(":")[0]).inc()
                log.warning(
                    "restarting", connector=spec.name, target=action.target, attempt=dog.backoffs[spec.name].attempts
                )
                if action.target == "connector":
                    client.restart(spec.name, include_tasks=True, only_failed=True)
                else:
                    client.restart_task(spec.name, int(action.target.split(":")[1]))
            since = dog.backoffs[spec.name].failing_since
            FAILING_SINCE.labels(spec.name).set(since or 0)
        stop.wait(interval_s)
    client.close()


def main() -> None:
    from sinks.health_server import serve

    allow_core_dumps()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    from prometheus_client import REGISTRY

    from ops.engine_metrics import register

    register(settings, REGISTRY.register)  # the engines' own state, read at each scrape of this /metrics
    server = serve(settings.bind_host, settings.watchdog_port, lambda: {"status": "ok", "service": "watchdog"})
    log.info("watchdog started", connect=settings.connect_url)
    try:
        run(settings, stop)
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
