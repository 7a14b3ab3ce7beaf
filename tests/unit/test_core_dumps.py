"""Our services may leave a core file when they die of a fatal signal (farmacy/logs.py allow_core_dumps): the fault
handler cannot report a crash in one of librdkafka's threads, which block every signal, and a sink worker died of
SIGSEGV there twice in one cluster fault run with nothing in its log."""

from __future__ import annotations

import importlib.util
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from farmacy.logs import SERVICE_CORE_LIMIT
from farmacy.settings import Settings
from stack.manifests import service_programs

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


def _run(code: str, cwd: Path, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter with the fault handler on, its core limit first set to ``limit`` (soft)."""
    preamble = ""
    if limit is not None:
        preamble = (
            "import resource\n"
            f"resource.setrlimit(resource.RLIMIT_CORE, ({limit}, resource.getrlimit(resource.RLIMIT_CORE)[1]))\n"
        )
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", preamble + textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_limit_is_raised_to_the_bound_within_the_hard_limit(tmp_path: Path) -> None:
    result = _run(
        """
        import resource
        from farmacy.logs import allow_core_dumps
        allow_core_dumps(123 << 20)
        print(*resource.getrlimit(resource.RLIMIT_CORE))
        """,
        tmp_path,
        limit=0,
    )
    soft, hard = (int(v) for v in result.stdout.split())
    assert soft == (123 << 20 if hard == resource.RLIM_INFINITY else min(123 << 20, hard)), result.stderr


def test_a_higher_limit_is_left_alone(tmp_path: Path) -> None:
    result = _run(
        """
        import resource
        from farmacy.logs import allow_core_dumps
        before = resource.getrlimit(resource.RLIMIT_CORE)
        allow_core_dumps(1 << 20)
        print(before == resource.getrlimit(resource.RLIMIT_CORE))
        """,
        tmp_path,
        limit=2 << 20,
    )
    assert result.stdout.strip() == "True", result.stderr


def test_the_bound_holds_a_sink_workers_core() -> None:
    """A sink worker's core is about 120 MB (its anonymous memory); a truncated one lacks the thread stacks."""
    assert SERVICE_CORE_LIMIT >= 512 << 20


@pytest.mark.skipif(
    Path("/proc/sys/kernel/core_pattern").read_text().strip() not in ("core", "core.%p")
    or resource.getrlimit(resource.RLIMIT_CORE)[1] == 0,
    reason="the kernel writes cores elsewhere (a pipe, another directory) or the hard limit forbids them",
)
def test_a_crash_in_a_thread_that_blocks_signals_leaves_a_core_and_no_fault_handler_output(tmp_path: Path) -> None:
    """What a segmentation fault in a librdkafka thread does: the kernel kills the process without running the fault
    handler (the thread blocks SIGSEGV), and the core file is the only trace."""
    result = _run(
        """
        import ctypes, signal, threading
        from farmacy.logs import allow_core_dumps
        allow_core_dumps()

        def crash() -> None:
            signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
            ctypes.string_at(0)

        thread = threading.Thread(target=crash)
        thread.start()
        thread.join()
        """,
        tmp_path,
        limit=0,
    )
    assert result.returncode == -11, (result.returncode, result.stderr)
    assert "Fatal Python error" not in result.stderr
    cores = list(tmp_path.glob("core*"))
    assert len(cores) == 1 and cores[0].stat().st_size > 0, cores


def test_every_supervised_service_allows_core_dumps() -> None:
    """Each program `farmacy up` supervises (the APIs, the watchdog, the reconciler, the sink workers) calls it from its
    entry point."""
    modules = {p.command[p.command.index("-m") + 1] for p in service_programs(Settings(_env_file=None))}
    assert {"sinks", "api.command", "ops.watchdog"} <= modules, modules
    without = []
    for module in sorted(modules):
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        path = Path(spec.origin)
        if path.name == "__init__.py":
            path = path.with_name("__main__.py")
        if "allow_core_dumps()" not in path.read_text():
            without.append(str(path))
    assert without == [], f"service entry points that do not call allow_core_dumps(): {without}"
