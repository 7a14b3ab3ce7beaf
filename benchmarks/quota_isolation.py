"""Quotas isolate clients: one client sending ten times its quota, beside a second client within its own.

    .venv/bin/python -m benchmarks.quota_isolation --quota 10 --quiet-rate 10 --seconds 30 --repeats 3

A query API of its own is started beside the running stack (reading its views) with a per-client quota of
``--quota`` requests/s (burst the same) and one worker process, so the quota is exactly that. Two clients, each with
its own token from the stack's identity provider, send GET /inventory/locations?size=5 at fixed rates:

- ``alone``: the quiet client at ``--quiet-rate`` (within its quota) by itself, open-loop (a request every 1/rate s,
  whether or not the previous one has answered; a Python process of its own, which times each answer);
- ``beside``: the same, while the noisy client sends ``--factor`` x ``--quota`` requests/s: wrk on
  ``--noisy-connections`` connections, each pausing between its requests (benchmarks/wrk/paced.lua), so the load
  generator itself takes little of the machine's CPU.

The two runs alternate (their order rotating) for ``--repeats`` rounds. Printed: the quiet client's p50 / p99 in each
run, and the noisy client's answers (429s and others); then medians and ranges across rounds and the per-round ratio
of the quiet client's p99 beside the noisy one to its p99 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.api_clients import query_api_beside
from stack.identity import Login, issue_token

PATH = "/inventory/locations?size=5"
PACED = Path(__file__).parent / "wrk" / "paced.lua"


@dataclass
class Drive:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)


async def _drive(url: str, token: str, rate: float, seconds: float) -> Drive:
    result = Drive()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits) as http:

        async def one() -> None:
            started = time.perf_counter()
            try:
                r = await http.get(PATH, timeout=10)
                result.statuses[r.status_code] += 1
                if r.status_code == 200:
                    result.latencies_ms.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                result.statuses[0] += 1

        tasks = []
        start = time.perf_counter()
        n = 0
        while (due := start + n / rate) < start + seconds:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
            n += 1
        await asyncio.gather(*tasks)
    return result


def _client_process(url: str, token: str, rate: float, seconds: float, out: Connection) -> None:
    out.send(asyncio.run(_drive(url, token, rate, seconds)))


def run(url: str, token: str, rate: float, seconds: float) -> Drive:
    """The quiet client, in a process of its own."""
    receive, send = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.Process(target=_client_process, args=(url, token, rate, seconds, send))
    proc.start()
    result: Drive = receive.recv()
    proc.join()
    return result


def noisy_client(url: str, token: str, rate: float, seconds: float, connections: int) -> subprocess.Popen[str]:
    exe = shutil.which("wrk")
    if exe is None:
        from stack.system import apt_install

        apt_install("wrk")  # Debian's package, like the stack's other system packages
        exe = shutil.which("wrk")
    assert exe is not None, "wrk not found after installing it"
    env = {**os.environ, "DELAY_MS": f"{connections * 1000 / rate:.1f}", "AUTHORIZATION": f"Bearer {token}"}
    return subprocess.Popen(
        [exe, "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(PACED), f"{url}{PATH}"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def noisy_result(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, _ = proc.communicate(timeout=120)
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"sent": r["requests"], "not_2xx": r["status"], "socket_errors": errors}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def spread(values: list[float], digits: int = 1) -> str:
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quota", type=float, default=10, help="requests/s per client (and the burst)")
    parser.add_argument("--factor", type=float, default=10, help="the noisy client's rate, in quotas")
    parser.add_argument("--quiet-rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3, help="seconds of quiet between two runs")
    parser.add_argument("--noisy-connections", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    quiet = issue_token(settings, Login(Role.ADMIN, "bench-quiet"))
    noisy = issue_token(settings, Login(Role.ADMIN, "bench-noisy"))
    quotas = {
        "quota_client_rate": str(args.quota),
        "quota_client_burst": str(max(1, int(args.quota))),
        "query_workers": "1",
    }
    p99: dict[str, list[float]] = {"alone": [], "beside": []}
    p50: dict[str, list[float]] = {"alone": [], "beside": []}
    ratios, refused = [], []
    with query_api_beside(settings, _free_port(), **quotas) as url:
        run(url, quiet, args.quiet_rate, 5)  # warm: connections, caches, the token verified once
        for i in range(args.repeats):
            order = ["alone", "beside"] if i % 2 == 0 else ["beside", "alone"]
            round_p99 = {}
            for kind in order:
                noisy_proc = None
                if kind == "beside":
                    rate = args.factor * args.quota
                    noisy_proc = noisy_client(url, noisy, rate, args.seconds, args.noisy_connections)
                q = run(url, quiet, args.quiet_rate, args.seconds)
                round_p99[kind] = quantile(q.latencies_ms, 0.99)
                p99[kind].append(round_p99[kind])
                p50[kind].append(quantile(q.latencies_ms, 0.5))
                line = (
                    f"round {i + 1} {kind:6}: quiet client {len(q.latencies_ms)} answered "
                    f"(others: {dict(q.statuses - Counter({200: q.statuses[200]})) or 'none'}), "
                    f"p50 {p50[kind][-1]:.1f} ms, p99 {round_p99[kind]:.1f} ms"
                )
                if noisy_proc is not None:
                    n = noisy_result(noisy_proc)
                    refused.append(n["not_2xx"] / max(1, n["sent"]))
                    line += (
                        f"; noisy client: {n['sent']} sent ({n['sent'] / args.seconds:.0f}/s), "
                        f"{n['sent'] - n['not_2xx']} answered 2xx, {n['not_2xx']} not (429), "
                        f"socket errors {n['socket_errors']}"
                    )
                print(line, flush=True)
                time.sleep(args.settle)
            ratios.append(round_p99["beside"] / round_p99["alone"])
    print(
        f"\nquota {args.quota:g}/s per client; noisy client at {args.factor * args.quota:g}/s, quiet client at "
        f"{args.quiet_rate:g}/s, {args.seconds:g} s per run, {args.repeats} rounds; median (min-max):"
    )
    print("| quiet client | p50 ms | p99 ms |\n| --- | --- | --- |")
    for kind in ("alone", "beside"):
        print(f"| {kind} | {spread(p50[kind])} | {spread(p99[kind])} |")
    print(f"quiet client's p99 beside / alone, per round: x{spread(ratios, 2)}")
    print(f"noisy client's requests answered other than 2xx (429): {spread([r * 100 for r in refused])} %")


if __name__ == "__main__":
    main()
