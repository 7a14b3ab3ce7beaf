"""Kafka Connect REST client: apply connector configs idempotently, read and change their state."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx

from farmacy.settings import ROOT

CONNECTORS_DIR = ROOT / "connectors"


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    config: dict[str, str]


def load_specs(directory: Path = CONNECTORS_DIR) -> list[ConnectorSpec]:
    specs = []
    for path in sorted(directory.glob("*.json")):
        raw = json.loads(path.read_text())
        config = raw["config"]
        if not all(isinstance(v, str) for v in config.values()):
            raise ValueError(f"{path}: every config value must be a string")
        specs.append(ConnectorSpec(name=raw["name"], config=config))
    return specs


class ConnectClient:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def info(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._http.get("/").raise_for_status().json())

    def plugins(self) -> list[str]:
        resp = self._http.get("/connector-plugins").raise_for_status()
        return [p["class"] for p in resp.json()]

    def connectors(self) -> list[str]:
        return cast(list[str], self._http.get("/connectors").raise_for_status().json())

    def apply(self, spec: ConnectorSpec, timeout: float = 60.0) -> None:
        """Creates or updates the connector (PUT is idempotent: same config, no restart).

        Retries while the Connect group rebalances (409), which it does right after a worker starts.
        """
        deadline = time.monotonic() + timeout
        while True:
            resp = self._http.put(f"/connectors/{spec.name}/config", json=spec.config)
            if resp.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
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
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.status(name)
            if last and is_running(last):
                return last
            if last and _failed_trace(last):
                raise RuntimeError(f"connector {name} failed:\n{_failed_trace(last)}")
            time.sleep(0.5)
        raise TimeoutError(f"connector {name} not RUNNING after {timeout:.0f}s; last status: {last}")


def is_running(status: dict[str, Any]) -> bool:
    tasks = status.get("tasks", [])
    return bool(status["connector"]["state"] == "RUNNING" and tasks and all(t["state"] == "RUNNING" for t in tasks))


def _failed_trace(status: dict[str, Any]) -> str | None:
    for part in [status["connector"], *status.get("tasks", [])]:
        if part.get("state") == "FAILED":
            return str(part.get("trace", "FAILED"))[:3000]
    return None
