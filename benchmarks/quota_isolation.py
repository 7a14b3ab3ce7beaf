"""Quotas isolate clients: one client sending ten times its quota, beside a second client within its own.

    .venv/bin/python -m benchmarks.quota_isolation --quota 10 --quiet-rate 10 --seconds 30 --repeats 3

A query API of its own is started beside the running stack (reading its views) with a per-client quota of
``--quota`` requests/s (burst the same) and one worker process, so the quota is exactly that. Two clients, each in a
process of its own with its own connections and its own token from the stack's identity provider, send
GET /inventory/locations?size=5 open-loop at fixed rates (a request every 1/rate s, whether or not the previous one
has answered):

- ``alone``: the quiet client at ``--quiet-rate`` (within its quota) by itself;
- ``beside``: the same, while the noisy client sends ``--factor`` x ``--quota`` requests/s.

The two runs alternate (their order rotating) for ``--repeats`` rounds. Printed: the quiet client's p50 / p99 in each
run, and the noisy client's answers (429s and others); then medians and ranges across rounds and the per-round ratio
of the quiet client's p99 beside the noisy one to its p99 alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import httpx

from farmacy.auth import Role
from farmacy.settings import Settings
from stack.api_clients import query_api_beside
from stack.identity import Login, issue_token

PATH = "/inventory/locations?size=5"


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


def run(url: str, clients: list[tuple[str, float]], seconds: float) -> list[Drive]:
    """Each client (token, rate) in a process of its own, all started together."""
    pipes, procs = [], []
    for token, rate in clients:
        receive, send = multiprocessing.Pipe(duplex=False)
        proc = multiprocessing.Process(target=_client_process, args=(url, token, rate, seconds, send))
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    results = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join()
    return results


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
        run(url, [(quiet, args.quiet_rate)], 5)  # warm: connections, caches, the token verified once
        for i in range(args.repeats):
            order = ["alone", "beside"] if i % 2 == 0 else ["beside", "alone"]
            round_p99 = {}
            for kind in order:
                clients = [(quiet, args.quiet_rate)]
                if kind == "beside":
                    clients.append((noisy, args.factor * args.quota))
                results = run(url, clients, args.seconds)
                q = results[0]
                round_p99[kind] = quantile(q.latencies_ms, 0.99)
                p99[kind].append(round_p99[kind])
                p50[kind].append(quantile(q.latencies_ms, 0.5))
                line = (
                    f"round {i + 1} {kind:6}: quiet client {len(q.latencies_ms)} answered "
                    f"(others: {dict(q.statuses - Counter({200: q.statuses[200]})) or 'none'}), "
                    f"p50 {p50[kind][-1]:.1f} ms, p99 {round_p99[kind]:.1f} ms"
                )
                if kind == "beside":
                    n = results[1].statuses
                    total = sum(n.values())
                    refused.append(n[429] / total)
                    line += f"; noisy client: {total} sent, {n[200]} answered 200, {n[429]} refused 429"
                    line += f", other {total - n[200] - n[429]}"
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
    print(f"noisy client's requests refused with 429: {spread([r * 100 for r in refused])} %")


if __name__ == "__main__":
    main()
