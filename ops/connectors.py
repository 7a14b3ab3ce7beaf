"""Connector actions shared by the CLI, the ops API and the console: status, restart, pause, resume."""

from __future__ import annotations

from typing import Any

from farmacy.connect import ConnectClient, load_specs
from farmacy.settings import Settings

ACTIONS = ("restart", "pause", "resume")


class UnknownConnector(LookupError):
    pass


def connector_names(settings: Settings) -> list[str]:
    return [spec.name for spec in load_specs(settings)]


def statuses(settings: Settings) -> list[dict[str, Any] | None]:
    client = ConnectClient(settings.connect_urls)
    try:
        return [client.status(name) for name in connector_names(settings)]
    finally:
        client.close()


def act(settings: Settings, name: str, action: str) -> dict[str, Any] | None:
    """restart (the connector and its failed tasks), pause or resume; returns the status after the request."""
    if name not in connector_names(settings):
        raise UnknownConnector(f"no connector {name!r}")
    if action not in ACTIONS:
        raise ValueError(f"no action {action!r}; actions: {', '.join(ACTIONS)}")
    client = ConnectClient(settings.connect_urls)
    try:
        if action == "restart":
            client.restart(name, include_tasks=True, only_failed=True)
        elif action == "pause":
            client.pause(name)
        else:
            client.resume(name)
        return client.status(name)
    finally:
        client.close()
