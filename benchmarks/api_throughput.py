"""Throughput and latency of the APIs, driven by wrk (Debian package `wrk`), runs interleaved and repeated.

``query``: the same catalog searches (200 random ones, the mix of benchmarks.search_latency) sent

- through the query API (GET /catalog/meals?...),
- straight to Elasticsearch as the identical request bodies the query API builds (POST /catalog/_search),
- to benchmarks.pg_catalog_service, the same search on the normalized PostgreSQL schema,

at each client count, the three targets one after the other in rotating order, ``--repeats`` rounds.

``command``: adjustments (POST /inventory/adjustments) and orders (POST /orders) through the command API, each
request with its own Idempotency-Key, at ``--clients`` clients, interleaved and repeated.

    .venv/bin/python -m benchmarks.api_throughput query --clients 16 100 --seconds 10 --repeats 3
    .venv/bin/python -m benchmarks.api_throughput command --clients 16 --seconds 10 --repeats 3

Prints one line per run and a table of medians (min-max across rounds); non-2xx answers and socket errors
are counted, never hidden. Each API is then set against the other targets round by round (throughput, p99 and the
machine's CPU per request, each round's figure divided by the other target's in the same round): the median and
range of those ratios are what the API's bars are judged on. ``--no-baseline`` leaves the PostgreSQL baseline out.
With the stack's supervisor reachable, each run also reports where the machine's CPU went: CPU milliseconds per
answered request for every component (each supervised program's process tree, wrk, the PostgreSQL baseline service)
and for the whole machine, from psutil before and after the run. On a machine where the components share the cores,
those figures bound the throughput: requests/s <= cores / (machine CPU seconds per request).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg

from api.query.catalog_query import CatalogSearch, CatalogSort, GeoPoint, build_search
from api.query.json_bodies import CATALOG_SOURCE
from benchmarks.pg_catalog_service import APPLICATION_NAME as BASELINE_APPLICATION
from benchmarks.place_orders import bench_location
from benchmarks.search_latency import random_search
from benchmarks.sync_watch import MACHINE, by_component, cpu_snapshot, stack_processes, tree_cpu
from farmacy.auth import Role
from farmacy.db_roles import ROLES, DbRole
from farmacy.settings import Settings
from stack.identity import Login, issue_token

LUA = Path(__file__).parent / "wrk" / "requests.lua"
PG_READERS = "postgres (readers)"


@dataclass
class Run:
    target: str
    clients: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    ok: int = 0
    # CPU milliseconds per answered request, by component, and "(machine busy)" for the whole machine.
    cpu_ms: dict[str, float] | None = None


class CpuMeter:
    """CPU seconds of the stack's programs (grouped: every sink worker counts as "sinks"), of wrk (this process's
    waited-for children) and of any other process given, read before and after a run.

    PostgreSQL is split by the role its sessions log in as: ``postgres (readers)`` is the backends of the reader role
    (the sink workers' lookups, the reconciler's sweeps, the watchdog, the query API), ``postgres`` the rest (the
    command API's sessions, the capture's walsender, the server's own processes). A reconciliation sweep that falls
    into a run then shows as what it is instead of adding to what a command costs the master."""

    def __init__(self, settings: Settings, others: dict[str, int] | None = None) -> None:
        self.settings = settings
        try:
            self.procs = stack_processes(settings)
        except (SystemExit, OSError) as exc:  # no local supervisor (e.g. another deployment): no CPU figures
            print(f"no CPU accounting: {exc}", file=sys.stderr)
            self.procs = {}
        self.others = others or {}

    def snapshot(self) -> dict[str, float]:
        if not self.procs:
            return {}
        extra: dict[str, Callable[[], float]] = {name: partial(tree_cpu, pid) for name, pid in self.others.items()}
        extra["wrk"] = _children_cpu
        snap = by_component(cpu_snapshot(self.procs, extra))
        if "postgres" in snap:
            readers = self._reader_backends()
            snap[PG_READERS] = readers
            snap["postgres"] -= readers
        return snap

    def _reader_backends(self) -> float:
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename = %s", (ROLES[DbRole.READER].name,)
            ).fetchall()
        return sum(tree_cpu(int(pid)) for (pid,) in rows)

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], ok: int) -> dict[str, float] | None:
        if not before or ok <= 0:
            return None
        return {k: round((after[k] - before.get(k, 0.0)) * 1000 / ok, 2) for k in after}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def cpu_line(cpu: dict[str, float] | None, top: int = 6) -> str:
    if not cpu:
        return ""
    parts = sorted(((k, v) for k, v in cpu.items() if k != MACHINE), key=lambda kv: -kv[1])[:top]
    return f"  CPU ms/request: machine {cpu[MACHINE]:.1f}; " + ", ".join(f"{k} {v:.1f}" for k, v in parts)


def wrk(url: str, requests_file: Path, clients: int, seconds: float, env: dict[str, str] | None = None) -> Run:
    exe = shutil.which("wrk")
    if exe is None:
        from stack.system import apt_install

        apt_install("wrk")  # Debian's package, like the stack's other system packages
        exe = shutil.which("wrk")
    assert exe is not None, "wrk not found after installing it"
    threads = min(2, clients)
    out = subprocess.run(
        [
            exe,
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            url,
            "--",
            str(requests_file),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    r = json.loads(line.removeprefix("WRK_JSON "))
    ok = r["requests"] - r["status"]
    return Run(
        target="",
        clients=clients,
        rps=ok / (r["duration_us"] / 1e6),
        p50_ms=r["p50_ms"],
        p99_ms=r["p99_ms"],
        non_2xx=r["status"],
        socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
        ok=ok,
    )


def measured_wrk(
    meter: CpuMeter, url: str, requests_file: Path, clients: int, seconds: float, env: dict[str, str] | None = None
) -> Run:
    before = meter.snapshot()
    run = wrk(url, requests_file, clients, seconds, env)
    run.cpu_ms = meter.per_request(before, meter.snapshot(), run.ok)
    return run


def write_requests(path: Path, lines: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{m}\t{p}\t{b}\n" for m, p, b in lines))
    return path


def as_search(params: dict[str, Any]) -> CatalogSearch:
    """The CatalogSearch the query API builds from these parameters (api/query/routers/catalog.py)."""
    near = None
    if "near" in params:
        lat, lon = (float(x) for x in params["near"].split(","))
        near = GeoPoint(lat, lon)
    return CatalogSearch(
        q=params.get("q"),
        dietary_tags=list(params.get("dietary_tags", [])),
        exclude_allergens=list(params.get("exclude_allergens", [])),
        price_max=params.get("price_max"),
        near=near,
        radius_km=float(params["radius_km"]) if "radius_km" in params else None,
        available_now=params.get("available_now") == "true",
        sort=CatalogSort(params.get("sort", "relevance")),
        size=params["size"],
    )


def summarize(runs: list[Run], baseline: str, others: list[str]) -> None:
    by: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for r in runs:
        by[(r.target, r.clients)].append(r)

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"

    print(
        "\n| target | clients | req/s median (min-max) | p50 ms | p99 ms median (min-max) | non-2xx | socket errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (target, clients), rs in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(
            f"| {target} | {clients} | {spread([r.rps for r in rs])} | {statistics.median(r.p50_ms for r in rs):.1f} "
            f"| {spread([r.p99_ms for r in rs])} | {sum(r.non_2xx for r in rs)} | {sum(r.socket_errors for r in rs)} |"
        )
    cpu_rows = [(key, rs) for key, rs in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])) if rs[0].cpu_ms]
    if cpu_rows:
        parts = sorted({k for _key, rs in cpu_rows for r in rs for k in (r.cpu_ms or {})} - {MACHINE})
        print("\nCPU milliseconds per answered request, median across rounds (psutil, whole process trees):\n")
        print("| target | clients | machine | " + " | ".join(parts) + " |")
        print("| --- | --- | --- | " + " | ".join("---" for _ in parts) + " |")
        for (target, clients), rs in cpu_rows:

            def med(k: str, rs: list[Run] = rs) -> str:
                return f"{statistics.median((r.cpu_ms or {}).get(k, 0.0) for r in rs):.2f}"

            print(f"| {target} | {clients} | {med(MACHINE)} | " + " | ".join(med(k) for k in parts) + " |")
    for other in others:
        for clients in sorted({c for _t, c in by}):
            a, b = by.get((baseline, clients)), by.get((other, clients))
            if not a or not b:
                continue
            # Each round's figure against the other target's in the same round (the runs are in round order).
            ratios = [x.rps / y.rps for x, y in zip(a, b, strict=False)]
            p99 = [x.p99_ms / y.p99_ms for x, y in zip(a, b, strict=False)]
            cpu = [
                x.cpu_ms[MACHINE] / y.cpu_ms[MACHINE]
                for x, y in zip(a, b, strict=False)
                if x.cpu_ms and y.cpu_ms and y.cpu_ms.get(MACHINE)
            ]
            print(
                f"{baseline} / {other} at {clients} clients: throughput x{statistics.median(ratios):.2f} "
                f"({min(ratios):.2f}-{max(ratios):.2f}), p99 x{statistics.median(p99):.2f} "
                f"({min(p99):.2f}-{max(p99):.2f})"
                + (
                    f", machine CPU per request x{statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f})"
                    if cpu
                    else ""
                )
            )


def query(args: argparse.Namespace, settings: Settings, tmp: Path) -> None:
    rnd = random.Random(args.seed)
    searches = [random_search(rnd) for _ in range(200)]
    api_lines = [("GET", "/catalog/meals?" + urlencode(p, doseq=True), "") for p in searches]
    es_lines = [
        ("POST", "/catalog/_search", json.dumps(build_search(as_search(p), CATALOG_SOURCE), separators=(",", ":")))
        for p in searches
    ]
    api_file = write_requests(tmp / "api", api_lines)
    apis = dict(a.split("=", 1) for a in args.api) or {"query-api": f"http://127.0.0.1:{settings.query_port}"}
    files = {
        **{name: (url, api_file) for name, url in apis.items()},
        "elasticsearch": (settings.elasticsearch_url, write_requests(tmp / "es", es_lines)),
    }
    if not args.no_baseline:
        files["postgresql"] = (f"http://127.0.0.1:{args.pg_port}", api_file)
    baseline = None
    if not args.pg_url_running and not args.no_baseline:
        baseline = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.pg_catalog_service",
                "--port",
                str(args.pg_port),
                "--workers",
                str(args.pg_workers),
            ],
        )
    meter = CpuMeter(settings, _cpu_pids(args, {"postgresql baseline service": baseline.pid} if baseline else {}))
    try:
        if not args.no_baseline:
            _wait_up(f"http://127.0.0.1:{args.pg_port}/catalog/meals?size=1")
        for url, _f in files.values():
            # Warm each target once, so the first round measures no cold cache (nor Elasticsearch's code not yet
            # compiled: on a stack just started, its first rounds cost it up to half as much again per search).
            warm = f"-d{args.warm_s}s"
            subprocess.run(["wrk", "-t1", "-c4", warm, "-s", str(LUA), url, "--", str(_f)], capture_output=True)
        runs: list[Run] = []
        targets = list(files)
        for rnd_no in range(args.repeats):
            for clients in args.clients:
                shift = rnd_no % len(targets)
                order = targets[shift:] + targets[:shift]
                for target in order:
                    url, f = files[target]
                    run = measured_wrk(meter, url, f, clients, args.seconds)
                    if target == "postgresql":
                        _baseline_quiet(settings)
                    time.sleep(args.settle)  # let requests still in flight finish before the next target's run
                    run.target = target
                    runs.append(run)
                    print(
                        f"round {rnd_no + 1} {target:13} c={clients:3} {run.rps:7.0f} req/s p50 {run.p50_ms:6.1f} "
                        f"p99 {run.p99_ms:6.1f} ms non-2xx {run.non_2xx} socket errors {run.socket_errors}"
                        + cpu_line(run.cpu_ms),
                        flush=True,
                    )
        others = ["elasticsearch"] if args.no_baseline else ["elasticsearch", "postgresql"]
        for name in apis:
            summarize([r for r in runs if r.target in (name, *others)], name, others)
    finally:
        if baseline is not None:
            baseline.terminate()
            baseline.wait(10)


def _baseline_quiet(settings: Settings, timeout_s: float = 90) -> None:
    """Waits until the PostgreSQL baseline has finished the searches still queued in it when wrk stopped (up to
    its clients' count, each up to its 10 s statement timeout): they would otherwise run into the next target's
    measurement. Quiet: no busy session of the baseline in five polls 0.2 s apart."""
    started = time.monotonic()
    quiet = 0
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        while quiet < 5 and time.monotonic() - started < timeout_s:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
                [BASELINE_APPLICATION],
            ).fetchone()
            quiet = quiet + 1 if row and row[0] == 0 else 0
            time.sleep(0.2)
    waited = time.monotonic() - started
    if waited > 2:
        print(f"  (waited {waited:.0f} s for the PostgreSQL baseline to finish its queued searches)", flush=True)


def _cpu_pids(args: argparse.Namespace, known: dict[str, int]) -> dict[str, int]:
    """Processes outside the stack's supervisor whose CPU is accounted too (e.g. an API served beside the stack)."""
    return {**known, **{name: int(pid) for name, pid in (x.split("=", 1) for x in args.cpu_pid)}}


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            httpx.get(url, timeout=120).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def command(args: argparse.Namespace, settings: Settings, tmp: Path) -> None:
    apis = dict(a.split("=", 1) for a in args.command_api) or {
        "command-api": f"http://127.0.0.1:{settings.command_port}"
    }
    base = next(iter(apis.values()))  # every API given writes to the same master: set up through the first
    token = issue_token(settings, Login(Role.ADMIN, "bench"))
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as http:
        meals = []
        for i in range(args.meals):
            r = http.post("/catalog/meals", json={"name": f"Bench Meal {i}", "calories": 500, "price_cents": 1000})
            meals.append(r.raise_for_status().json()["id"])
            http.post(f"/catalog/meals/{meals[-1]}/publish").raise_for_status()
        locations = []
        for _ in range(args.locations):
            r = http.post(
                "/locations",
                json=bench_location(),
            )
            locations.append(r.raise_for_status().json()["id"])
            for meal in meals:
                http.post(
                    "/inventory/adjustments",
                    json={"location_id": locations[-1], "meal_id": meal, "delta": 10_000, "reason": "replenish"},
                ).raise_for_status()
        customers = [
            http.post("/customers", json={"email": f"bench-{uuid.uuid4().hex[:12]}@example.com", "name": f"B {i}"})
            .raise_for_status()
            .json()["id"]
            for i in range(16)
        ]
    rnd = random.Random(args.seed)
    adjustments = [
        (
            "POST",
            "/inventory/adjustments",
            json.dumps(
                {"location_id": rnd.choice(locations), "meal_id": rnd.choice(meals), "delta": 1, "reason": "replenish"}
            ),
        )
        for _ in range(500)
    ]
    now = datetime.now(UTC)
    orders = []
    for _ in range(500):
        chosen = rnd.sample(meals, rnd.randint(1, min(3, len(meals))))
        body = {
            "customer_id": rnd.choice(customers),
            "location_id": rnd.choice(locations),
            "pickup_from": (now + timedelta(hours=2)).isoformat(),
            "pickup_until": (now + timedelta(hours=3)).isoformat(),
            "lines": [{"meal_id": m, "quantity": rnd.randint(1, 2)} for m in sorted(chosen)],
        }
        orders.append(("POST", "/orders", json.dumps(body)))
    files = {"adjustments": write_requests(tmp / "adj", adjustments), "orders": write_requests(tmp / "ord", orders)}
    # Each wrk thread is a client of its own (its own subject, so its own quota: quota_client_rate a second): one
    # client for the whole run was refused with 429 once the command API served more than its quota.
    env = {"IDEMPOTENCY": "1", **{f"AUTH_{n}": issue_token(settings, Login(Role.ADMIN, f"bench-{n}")) for n in (1, 2)}}
    runs: list[Run] = []
    meter = CpuMeter(settings, _cpu_pids(args, {}))
    targets = [(api, kind) for api in apis for kind in files]
    for rnd_no in range(args.repeats):
        for clients in args.clients:
            shift = rnd_no % len(targets)
            for api, kind in targets[shift:] + targets[:shift]:
                run = measured_wrk(meter, apis[api], files[kind], clients, args.seconds, env)
                time.sleep(args.settle)
                run.target = f"{api} {kind}"
                runs.append(run)
                print(
                    f"round {rnd_no + 1} {run.target:24} c={clients:3} {run.rps:6.0f}/s p50 {run.p50_ms:6.1f} "
                    f"p99 {run.p99_ms:6.1f} ms non-2xx {run.non_2xx} socket errors {run.socket_errors}"
                    + cpu_line(run.cpu_ms),
                    flush=True,
                )
    summarize(runs, f"{next(iter(apis))} adjustments", [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["query", "command"])
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 100])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--settle", type=float, default=5, help="seconds of quiet between two runs")
    parser.add_argument(
        "--api",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a query API to measure (repeatable, e.g. before=http://127.0.0.1:8102); default: the stack's",
    )
    parser.add_argument(
        "--command-api",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a command API to measure (repeatable); default: the stack's",
    )
    parser.add_argument(
        "--cpu-pid",
        action="append",
        default=[],
        metavar="NAME=PID",
        help="account this process tree's CPU too (repeatable), e.g. an API served beside the stack",
    )
    parser.add_argument("--pg-port", type=int, default=8190, help="port of benchmarks.pg_catalog_service")
    parser.add_argument("--pg-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pg-url-running", action="store_true", help="the PostgreSQL service is already running")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="query: leave out the PostgreSQL baseline (it saturates the machine for minutes and is not what the "
        "API's bars compare with)",
    )
    parser.add_argument("--warm-s", type=int, default=2, help="query: seconds of warm-up per target before the rounds")
    parser.add_argument("--meals", type=int, default=5)
    parser.add_argument("--locations", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        (query if args.what == "query" else command)(args, settings, Path(tmp))


if __name__ == "__main__":
    main()
