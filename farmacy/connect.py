"""Kafka Connect REST client: apply connector configs idempotently, read and change their state."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from farmacy.settings import ROOT, Settings

CONNECTORS_DIR = ROOT / "connectors"
# Values a connector JSON takes from settings at apply time, written like Connect's own config providers
# (`${file:path:key}` stays for Connect to resolve): everything that differs between two stacks.
SETTINGS_PLACEHOLDER = re.compile(r"\$\{settings:([a-z_]+)\}")
POLL_S = 0.5


def stack_values(settings: Settings) -> dict[str, str]:
    """What `${settings:KEY}` may name: stack-specific names and sizes only, never a secret."""
    return {
        "connector_name": settings.connector_name,
        "topic_prefix": settings.topic_prefix,
        "slot_name": settings.slot_name,
        "topic_partitions": str(settings.topic_partitions),
        "topic_replication_factor": str(settings.topic_replication_factor),
    }


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    config: dict[str, str]


def render(raw: str, values: dict[str, str], source: Path | str = "connector") -> str:
    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ValueError(f"{source}: unknown placeholder ${{settings:{key}}}; known: {', '.join(sorted(values))}")
        return values[key]

    return SETTINGS_PLACEHOLDER.sub(fill, raw)


def load_specs(settings: Settings, directory: Path = CONNECTORS_DIR) -> list[ConnectorSpec]:
    """Every ``connectors/*.json`` with its ``${settings:...}`` placeholders filled from ``settings``."""
    values = stack_values(settings)
    specs = []
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        config = raw["config"]
        if not all(isinstance(v, str) for v in config.values()):
            raise ValueError(f"{path}: every config value must be a string")
        specs.append(
            ConnectorSpec(
                name=render(raw["name"], values, path),
                config={key: render(value, values, path) for key, value in config.items()},
            )
        )
    return specs


class ConnectClient:
    """Kafka Connect's REST API. Given several workers' URLs, a request that cannot reach one worker goes to the
    next (any worker answers for the whole group, forwarding to the leader what needs it)."""

    def __init__(self, url: str | Sequence[str], timeout: float = 10.0) -> None:
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("ConnectClient needs at least one URL")
        self._clients = [httpx.Client(base_url=u, timeout=timeout) for u in urls]
        self._current = 0

    def close(self) -> None:
        for client in self._clients:
            client.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(len(self._clients)):
            client = self._clients[(self._current + attempt) % len(self._clients)]
            try:
                response = client.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == len(self._clients) - 1:
                    raise
                continue
            self._current = (self._current + attempt) % len(self._clients)
            return response
        raise AssertionError("unreachable")

    def info(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._send("GET", "/").raise_for_status().json())

    def apply(self, spec: ConnectorSpec, timeout: float = 60.0) -> None:
        """Creates or updates the connector (PUT is idempotent: same config, no restart).

        Retries while the Connect group rebalances (409), which it does right after a worker starts.
        """
        put = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(POLL_S),
            retry=retry_if_result(lambda resp: resp.status_code == 409),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        resp: httpx.Response = put(self._send, "PUT", f"/connectors/{spec.name}/config", json=spec.config)
        if resp.is_error:
            raise RuntimeError(f"PUT config of {spec.name} failed: {resp.status_code} {resp.text[:1000]}")

    def status(self, name: str) -> dict[str, Any] | None:
        resp = self._send("GET", f"/connectors/{name}/status")
        if resp.status_code == 404:
            return None
        return cast(dict[str, Any], resp.raise_for_status().json())

    def restart(self, name: str, include_tasks: bool = True, only_failed: bool = False) -> None:
        params = {"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()}
        self._send("POST", f"/connectors/{name}/restart", params=params).raise_for_status()

    def restart_task(self, name: str, task: int) -> None:
        self._send("POST", f"/connectors/{name}/tasks/{task}/restart").raise_for_status()

    def pause(self, name: str) -> None:
        self._send("PUT", f"/connectors/{name}/pause").raise_for_status()

    def resume(self, name: str) -> None:
        self._send("PUT", f"/connectors/{name}/resume").raise_for_status()

    def wait_running(self, name: str, timeout: float = 120.0) -> dict[str, Any]:
        """Polls until the connector and all its tasks are RUNNING (a worker not answering yet counts as not yet);
        fails at once when one has FAILED."""

        def poll() -> dict[str, Any] | None:
            try:
                status = self.status(name)
            except httpx.TransportError:  # the worker is (re)starting: its REST API is not listening yet
                return None
            if status and (trace := _failed_trace(status)):
                raise RuntimeError(f"connector {name} failed:\n{trace}")
            return status

        waiting = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(POLL_S),
            retry=retry_if_result(lambda status: not (status and is_running(status))),
        )
        try:
            return cast(dict[str, Any], waiting(poll))
        except RetryError as exc:
            last = exc.last_attempt.result()
            raise TimeoutError(f"connector {name} not RUNNING after {timeout:.0f}s; last status: {last}") from None


def is_running(status: dict[str, Any]) -> bool:
    tasks = status.get("tasks", [])
    return bool(status["connector"]["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks))


def _failed_trace(status: dict[str, Any]) -> str | None:
    for part in [status["connector"], *status.get("tasks", [])]:
        if part.get("state") == "FAILED":
            return str(part.get("trace", "FAILED"))[:3000]
    return None
