"""Replay (from a time or from offsets), blue/green rebuild and scale are carried out by the running workers through
the data plane (sinks/control.py): the operator tooling behind them, the CLI's, the ops API's and the console's, loads
no supervisord client and no docker compose driver (ops/workers.py), so they work the same under Kubernetes. The
end-to-end proof under load, with both made to fail, is tests/e2e/test_operations_under_load.py."""

from __future__ import annotations

import subprocess
import sys

OPERATIONS = ("ops.replay", "ops.bluegreen", "ops.control", "ops.jobs", "api.ops.app", "api.ops.console")
PLATFORM = ("supervisor", "ops.workers", "stack.supervisor", "stack.lifecycle")


def test_the_operations_load_no_supervisor_or_compose_client() -> None:
    # One fresh interpreter for all of them: if none of the modules loaded together brings one in, none does alone.
    probe = (
        f"import sys, importlib; [importlib.import_module(m) for m in {OPERATIONS!r}]; "
        f"print(','.join(m for m in {PLATFORM!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"the operations load {loaded}"


def test_the_operations_modules_hold_no_worker_control_and_no_subprocess() -> None:
    import ops.bluegreen
    import ops.control
    import ops.replay

    for name in ("worker_control", "SupervisorWorkers", "ComposeWorkers", "subprocess"):
        for module in (ops.bluegreen, ops.control, ops.replay):
            assert not hasattr(module, name), f"{module.__name__} reaches {name}"
