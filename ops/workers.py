"""Starting and stopping a view's sink worker, wherever it runs.

Replay and blue/green rebuild must stop a view's worker (a consumer group's offsets move only while it has no
members; a rebuild must not race the worker) and start it again. They do that through ``WorkerControl``, so they
work the same under the local stack's supervisord and under docker compose. ``FARMACY_WORKER_CONTROL`` picks one.
"""

from __future__ import annotations

import subprocess
import xmlrpc.client
from typing import Any, Protocol

from supervisor.xmlrpc import SupervisorTransport

from farmacy.settings import Settings, WorkerControlKind
from farmacy.views import worker_program


class WorkerControl(Protocol):
    def stop(self, view: str) -> None:
        """Stops every worker of the view and returns once they are gone (their group has no members)."""

    def start(self, view: str) -> None:
        """Starts the view's workers again (a no-op for a running one)."""


class SupervisorWorkers:
    """The local stack: each worker is a supervisord program (``sink-<view>``), driven over its XML-RPC socket."""

    def __init__(self, settings: Settings) -> None:
        transport = SupervisorTransport(None, None, f"unix://{settings.supervisor_socket}")
        self._rpc: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def stop(self, view: str) -> None:
        try:
            self._rpc.supervisor.stopProcess(worker_program(view), True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def start(self, view: str) -> None:
        try:
            self._rpc.supervisor.startProcess(worker_program(view), True)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise RuntimeError(f"{worker_program(view)} failed to start: {fault.faultString}") from fault


class ComposeWorkers:
    """docker compose: each worker is the service ``sink-<view>`` of ``docker-compose.yml``."""

    def __init__(self, settings: Settings) -> None:
        self._compose = ["docker", "compose", "--project-directory", str(settings.compose_project_dir)]

    def stop(self, view: str) -> None:
        subprocess.run([*self._compose, "stop", worker_program(view)], check=True)

    def start(self, view: str) -> None:
        subprocess.run([*self._compose, "start", worker_program(view)], check=True)


def worker_control(settings: Settings) -> WorkerControl:
    if settings.worker_control is WorkerControlKind.COMPOSE:
        return ComposeWorkers(settings)
    return SupervisorWorkers(settings)
