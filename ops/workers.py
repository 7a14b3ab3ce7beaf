"""Starting and stopping a view's sink workers, and the compose replica count, where supervisord or compose runs them.

No operator action stops workers any more: replay and blue/green rebuild are requests the running workers carry out
(ops/control.py). This remains for what must stop a worker on purpose (tests of a stopped view, benchmarks that
measure capture alone) and for `farmacy scale` under compose. ``FARMACY_WORKER_CONTROL`` picks one.
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
    """The local stack: a view's workers are the processes of the supervisord program ``sink-<view>`` (one group),
    driven over its XML-RPC socket."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        transport = SupervisorTransport(None, None, f"unix://{settings.supervisor_socket}")
        self._rpc: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def stop(self, view: str) -> None:
        self._rpc.supervisor.stopProcessGroup(worker_program(view), True)

    def start(self, view: str) -> None:
        for result in self._rpc.supervisor.startProcessGroup(worker_program(view), True):
            if result["status"] not in (80, 60):  # SUCCESS, ALREADY_STARTED (supervisor.xmlrpc.Faults)
                raise RuntimeError(f"{result['group']}:{result['name']} failed to start: {result['description']}")


class ComposeWorkers:
    """docker compose: each worker is the service ``sink-<view>`` of ``docker-compose.yml``."""

    def __init__(self, settings: Settings) -> None:
        self._compose = ["docker", "compose", "--project-directory", str(settings.compose_project_dir)]

    def stop(self, view: str) -> None:
        subprocess.run([*self._compose, "stop", worker_program(view)], check=True)

    def start(self, view: str) -> None:
        subprocess.run([*self._compose, "start", worker_program(view)], check=True)

    def scale(self, view: str, count: int) -> None:
        """Runs ``count`` replicas of the view's worker service (the local stack's count is `farmacy scale`'s,
        kept with the stack's configuration: stack/scale.py)."""
        service = worker_program(view)
        subprocess.run([*self._compose, "up", "-d", "--no-deps", "--scale", f"{service}={count}", service], check=True)


def worker_control(settings: Settings) -> WorkerControl:
    if settings.worker_control is WorkerControlKind.COMPOSE:
        return ComposeWorkers(settings)
    return SupervisorWorkers(settings)
