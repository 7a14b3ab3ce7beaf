"""Drives supervisord (the process supervisor of the local stack) through its XML-RPC interface."""

from __future__ import annotations

import subprocess
import sys
import xmlrpc.client
from collections.abc import Callable
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from stack.layout import Layout
from stack.progress import say


class Supervisor:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        transport = SupervisorTransport(None, None, f"unix://{layout.supervisor_socket}")
        self._rpc: Any = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def running(self) -> bool:
        if not self.layout.supervisor_socket.exists():
            return False
        try:
            return bool(self._rpc.supervisor.getState()["statename"] == "RUNNING")
        except (OSError, xmlrpc.client.Fault):
            return False

    def start_daemon(self) -> None:
        """Starts supervisord, or makes a running one pick up the freshly rendered config."""
        if self.running():
            added, changed, removed = self._rpc.supervisor.reloadConfig()[0]
            for name in removed:
                self._rpc.supervisor.stopProcessGroup(name)
                self._rpc.supervisor.removeProcessGroup(name)
            for name in changed:
                # A changed program restarts with its new command the next time it is started.
                self._rpc.supervisor.stopProcessGroup(name)
                self._rpc.supervisor.removeProcessGroup(name)
                self._rpc.supervisor.addProcessGroup(name)
            for name in added:
                self._rpc.supervisor.addProcessGroup(name)
            return
        supervisord = [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.layout.supervisord_conf)]
        subprocess.run(supervisord, check=True)
        if not _poll_until(self.running, timeout=20):
            raise RuntimeError(f"supervisord did not come up; see {self.layout.supervisord_log}")
        say(f"supervisord running (config {self.layout.supervisord_conf})")

    def info(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._rpc.supervisor.getProcessInfo(self.members(name)[0]))

    def all_info(self) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._rpc.supervisor.getAllProcessInfo())

    def members(self, name: str) -> list[str]:
        """The processes a name stands for, as supervisord names them: the program itself, or, for a program that
        runs several processes (a view's sink workers), each of them as "group:process"; "group:process" as is."""
        if ":" in name:
            return [name]
        found = [
            i["name"] if i["name"] == i["group"] else f"{i['group']}:{i['name']}"
            for i in self.all_info()
            if i["group"] == name
        ]
        return found or [name]

    def start(self, name: str) -> None:
        for member in self.members(name):
            if self._rpc.supervisor.getProcessInfo(member)["statename"] in ("RUNNING", "STARTING"):
                continue
            try:
                self._rpc.supervisor.startProcess(member, True)
            except xmlrpc.client.Fault as fault:
                if "ALREADY_STARTED" not in fault.faultString:
                    log = member.split(":")[-1] + ".log"
                    raise RuntimeError(
                        f"{member} failed to start ({fault.faultString}); see {self.layout.logs / log}"
                    ) from fault

    def stop(self, name: str) -> None:
        for member in self.members(name):
            try:
                self._rpc.supervisor.stopProcess(member, True)
            except xmlrpc.client.Fault as fault:
                # BAD_NAME: a program this code knows but the running configuration does not (added since `up`).
                if "NOT_RUNNING" not in fault.faultString and "BAD_NAME" not in fault.faultString:
                    raise

    def kill(self, name: str) -> None:
        """SIGKILL the program's processes (no clean shutdown); supervisord restarts them (autorestart)."""
        for member in self.members(name):
            self._rpc.supervisor.signalProcess(member, "KILL")

    def shutdown(self) -> None:
        self._rpc.supervisor.shutdown()
        if not _poll_until(lambda: not (self.layout.supervisor_socket.exists() and self.running()), timeout=60):
            raise RuntimeError("supervisord did not shut down within 60s")


def _poll_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Checks ``condition`` every 0.2 s until it holds (True) or ``timeout`` seconds have passed (False)."""
    polling = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.2),
        retry=retry_if_result(lambda held: not held),
        retry_error_callback=lambda _state: False,
    )
    return bool(polling(condition))
