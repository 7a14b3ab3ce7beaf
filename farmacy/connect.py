"""Kafka Connect REST client: apply connector configs idempotently, read and change their state."""

from __future__ import annotations

import json
import re
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
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def info(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._http.get("/").raise_for_status().json())

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
        resp: httpx.Response = put(self._http.put, f"/connectors/{spec.name}/config", json=spec.config)
        if resp.is_error:
            raise RuntimeError(f"PUT config of {spec.name} failed: {resp.status_code} {resp.text[:1000]}")

    def status(self, name: str) -> dict[str, Any] | None:
        resp = self._http.get(f"/connectors/{name}/status")
        if resp.status_code == 404:
            return None
        return cast(dict[str, Any], resp.raise_for_status().json())

    def restart(self, name: str, include_tasks: bool = True, only_failed: bool = False) -> None:
        params = {"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()}
        self._http.post(f"/connectors/{name}/restart", params=params).raise_for_status()

    def restart_task(self, name: str, task: int) -> None:
        self._http.post(f"/connectors/{name}/tasks/{task}/restart").raise_for_status()

    def pause(self, name: str) -> None:
        self._http.put(f"/connectors/{name}/pause").raise_for_status()

    def resume(self, name: str) -> None:
        self._http.put(f"/connectors/{name}/resume").raise_for_status()

    def wait_running(self, name: str, timeout: float = 120.0) -> dict[str, Any]:
        """Polls until the connector and all its tasks are RUNNING; fails at once when one has FAILED."""

        def poll() -> dict[str, Any] | None:
            status = self.status(name)
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
