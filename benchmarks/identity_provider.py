"""The local identity provider (Ory Hydra) of the running stack: its start time, its memory at rest, and what a
token costs.

    .venv/bin/python -m benchmarks.identity_provider --repeats 5

Start: hydra is stopped through the stack's supervisor and started again without waiting, and the time from the
start request until its admin API answers /health/ready is measured (its database schema is migrated already, as
on every `farmacy up` but the first). Memory: its resident set (process and children) after --settle seconds at
rest. Tokens: wall time of one token through the authorization-code flow (`farmacy token`), and the provider's CPU
milliseconds per token (psutil, its process tree). Median and range of the repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import httpx
import psutil

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.identity import Login, admin_url, issue_token
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor

PROGRAM = "hydra"


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def rss_mib(pid: int) -> float:
    return sum(p.memory_info().rss for p in _tree(pid)) / 2**20


def cpu_s(pid: int) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in _tree(pid))


def start_time_s(settings: Settings, sup: Supervisor) -> float:
    sup.stop(PROGRAM)
    ready = f"{admin_url(settings)}/health/ready"
    started = time.monotonic()
    sup._rpc.supervisor.startProcess(sup.members(PROGRAM)[0], False)  # not waiting for supervisor's startsecs
    while True:
        try:
            if httpx.get(ready, timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if time.monotonic() - started > 60:
            raise SystemExit("hydra not ready after 60 s")
        time.sleep(0.01)


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    return f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--settle", type=float, default=20, help="seconds at rest before reading the memory")
    parser.add_argument("--tokens", type=int, default=50, help="tokens issued per repeat")
    args = parser.parse_args()
    settings = Settings()
    sup = Supervisor(layout_for(settings))
    starts, memory, token_ms, token_cpu_ms = [], [], [], []
    for i in range(args.repeats):
        starts.append(start_time_s(settings, sup))
        time.sleep(args.settle)
        pid = int(sup.info(PROGRAM)["pid"])
        memory.append(rss_mib(pid))
        before_cpu, before = cpu_s(pid), time.monotonic()
        for n in range(args.tokens):
            issue_token(settings, Login(Role.ADMIN, f"bench-{n}"))
        elapsed = time.monotonic() - before
        token_ms.append(elapsed * 1000 / args.tokens)
        token_cpu_ms.append((cpu_s(pid) - before_cpu) * 1000 / args.tokens)
        print(
            f"round {i + 1}: ready {starts[-1]:.2f} s after start; {memory[-1]:.0f} MiB at rest; "
            f"{token_ms[-1]:.1f} ms and {token_cpu_ms[-1]:.2f} ms of its CPU per token",
            flush=True,
        )
    print(
        f"\nhydra, median (range) of {args.repeats}: ready after {spread(starts, 's')}; "
        f"resident at rest {spread(memory, 'MiB', 0)}; a token {spread(token_ms, 'ms', 1)} wall, "
        f"{spread(token_cpu_ms, 'ms', 2)} of the provider's CPU"
    )


if __name__ == "__main__":
    main()
