"""Sync at fixed write rates: stock changes straight into PostgreSQL, visibility read through the query API.

On the generated dataset (10,000 meals x 200 locations, ~50k stock rows; generated first when the master
does not hold it), for each rate: stock changes at that rate (plus 1 location status toggle and 2 meal renames
per second) for DURATION seconds from a separate process with several connections, then the drain. Reported
per rate and view:

- document: commit -> the change visible in the query API (inventory: `GET /inventory/locations/{id}`, the
  stock line's on_hand; catalog: `GET /inventory/meals/{id}/availability`, the location's quantity; renames:
  the meal's name there). Measured on probes: a share of the stock changes (--sample-per-s, at most a fifth
  of the rate) goes to the rows of a few watched documents, which are read under one cap on reads per second;
  a read settles every change of that document it shows. Resolution: the time between two reads of a
  document (printed as "poll gap"); a time is the answer of the first read that shows the change.
- token: commit -> the view's applied position reaches the commit's WAL position (`pg_current_wal_insert_lsn()`
  after the commit, as the command API returns it), i.e. when a read with that consistency token answers 200;
  from the `view.applied_lsn` of reads polled every --token-poll-ms, and a few real reads with the token.
- consumer lag per view every 0.5 s (end offset minus committed offset over all partitions of its group),
  max lag, and the drain: load stop -> the slot has confirmed the last change and the lag is 0.
- CPU seconds per supervised program (process tree) while the load ran, and the machine's busy CPU.
- where a change's time went, from the sinks' own histograms (`farmacy_sink_event_age_seconds`, all workers of a
  view): commit -> record produced by the capture, -> consumed by a worker, -> applied; p50 and p99 as bucket bounds.

    python -m benchmarks.sync_rate                                   # 100, 500, 1000, 2000/s, 60 s each
    python -m benchmarks.sync_rate --rates 100,500,1000 --duration 30 --out docs/bench/sync_rate_before.json
    python -m benchmarks.sync_rate --idle-token                      # 2/s: token latency minus visibility

Writes the JSON result to --out and, unless --no-plots, `<out>_latency.png` and `<out>_lag.png` beside it.
Run against the stack of FARMACY_STACK_DIR / FARMACY_* (like every command), never one in use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from typing import Any

import psycopg

from benchmarks.generate_dataset import generate
from benchmarks.sync_load import LoadPlan, LoadResult, Row, run_load
from benchmarks.sync_watch import (
    STAGES,
    LagSampler,
    Probe,
    Watcher,
    cpu_snapshot,
    json_safe,
    stack_processes,
    stage_buckets,
    stage_summary,
)
from farmacy.lsn import lsn_int
from farmacy.settings import Settings

GENERATED_MEALS = "SELECT count(*) FROM catalog.meals WHERE description LIKE '%% made fresh every morning (%%'"
MAX_PROBE_SHARE = 0.2


# -- statistics ---------------------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile; unresolved samples are +inf and count."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": pct(values, 0.5),
        "p99": pct(values, 0.99),
        "max": max(values) if values else math.nan,
        "unresolved": sum(1 for v in values if math.isinf(v)),
    }


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return "never" if math.isinf(value) else f"{value:.0f}"


# -- setup ---------------------------------------------------------------------------------------------------------


def ensure_dataset(settings: Settings, args: argparse.Namespace) -> bool:
    with psycopg.connect(settings.pg_dsn) as conn:
        row = conn.execute(GENERATED_MEALS).fetchone()
    have = int(row[0]) if row else 0
    if have >= args.meals:
        print(f"dataset: the master holds {have} generated meals; not generating")
        return False
    print(f"dataset: {have} generated meals; generating {args.meals} x {args.locations} at {args.density} ...")
    generate(settings, args.meals, args.locations, args.density, run=hex(int(time.time()))[2:])
    return True


class Dataset:
    """Rows to change, the watched documents and their probe rows, the toggled locations, the renamed meals."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        rng = random.Random(args.seed)
        with psycopg.connect(settings.pg_dsn) as conn:
            rows = conn.execute(
                """SELECT s.location_id::text, s.meal_id::text, l.status, m.name
                     FROM inventory.stock s
                     JOIN inventory.locations l ON l.id = s.location_id
                     JOIN catalog.meals m ON m.id = s.meal_id
                    WHERE l.code LIKE 'GEN-%%' AND l.kind = 'smart_fridge' AND m.status = 'active'
                    ORDER BY 1, 2"""
            ).fetchall()
        if not rows:
            raise SystemExit("no generated stock rows in the master")
        self.rows: list[Row] = [(r[0], r[1]) for r in rows]
        status = {r[0]: r[2] for r in rows}
        names = {r[1]: r[3] for r in rows}
        online = sorted(loc for loc, s in status.items() if s == "online")
        self.toggle_status = {loc: status[loc] for loc in rng.sample(online, min(args.toggle_pool, len(online) // 4))}
        stable = [loc for loc in online if loc not in self.toggle_status]
        self.watched_locations = rng.sample(stable, min(args.watch_locations, len(stable)))
        by_meal: dict[str, list[Row]] = {}
        stable_set = set(stable)
        for loc, meal in self.rows:
            if loc in stable_set:
                by_meal.setdefault(meal, []).append((loc, meal))
        candidates = sorted(m for m, rs in by_meal.items() if len(rs) >= 2)
        self.watched_meals = rng.sample(candidates, min(args.watch_meals, len(candidates)))
        watched_locs = set(self.watched_locations)
        catalog_rows = [r for m in self.watched_meals for r in by_meal[m] if r[0] not in watched_locs]
        self.probe_rows: dict[str, list[Row]] = {
            "inventory": [r for r in self.rows if r[0] in watched_locs],
            "catalog": catalog_rows,  # their level flips (benchmarks.sync_load): no plain change touches them
        }
        excluded = set(catalog_rows)
        self.plain_rows: list[Row] = [r for r in self.rows if r not in excluded]
        others = sorted(set(names) - set(self.watched_meals))
        self.rename_meals = {m: names[m].partition(" ~")[0] for m in rng.sample(others, min(200, len(others)))}

    def restore(self, settings: Settings) -> None:
        """Puts the toggled locations and the renamed meals back as they were (the same write conventions)."""
        with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
            for loc, status in self.toggle_status.items():
                conn.execute(
                    "UPDATE inventory.locations SET status = %s, version = version + 1, updated_at = now()"
                    " WHERE id = %s AND status <> %s",
                    [status, loc, status],
                )
            for meal, name in self.rename_meals.items():
                conn.execute(
                    "UPDATE catalog.meals SET name = %s, version = version + 1, updated_at = now()"
                    " WHERE id = %s AND name <> %s",
                    [name, meal, name],
                )


# -- one run --------------------------------------------------------------------------------------------------------


def wait_quiet(sampler: LagSampler, timeout: float, what: str) -> float:
    """Waits until every view's lag is 0 on a fresh sample; returns the time it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        sample = sampler.latest()
        if sample and sample.t > started and all(v == 0 for v in sample.lag.values()):
            return time.monotonic() - started
        time.sleep(0.25)
    print(f"  warning: {what}: lag not back to 0 after {timeout:.0f}s ({sampler.latest()})")
    return math.inf


async def run_rate(
    settings: Settings, args: argparse.Namespace, data: Dataset, sampler: LagSampler, rate: float, seq_start: int
) -> dict[str, Any]:
    idle = args.idle_token
    views: list[str] = args.views
    probe_per_s = rate if idle else min(args.sample_per_s, rate * MAX_PROBE_SHARE)
    plan = LoadPlan(
        dsn=settings.pg_dsn,
        rate=rate,
        duration=args.duration,
        connections=args.connections,
        rows=data.plain_rows,
        probe_rows={v: data.probe_rows[v] for v in views},
        probe_per_s=probe_per_s,
        toggles_per_s=0 if idle else args.toggles_per_s,
        toggle_locations=list(data.toggle_status),
        renames_per_s=0 if idle else (args.renames_per_s if "catalog" in views else 0),
        rename_meals=data.rename_meals,
        seed=args.seed + int(rate),
        seq_start=seq_start,
    )
    watcher = Watcher(
        settings,
        views,
        max_reads_per_s=args.max_reads_per_s,
        min_poll_s=args.min_poll_ms / 1000,
        token_poll_s=args.token_poll_ms / 1000,
        token_reads_per_s=rate if idle else args.token_reads_per_s,
        watermark_paths={
            "inventory": "/inventory/locations?size=1",
            "catalog": f"/catalog/meals/{data.watched_meals[0]}",
        },
    )
    watcher.start()
    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.Queue()
    done: asyncio.Future[LoadResult] = loop.create_future()

    def pump() -> None:
        while True:
            try:
                kind, payload = queue.get(timeout=5)
            except Empty:
                if not proc.is_alive():  # the load process died without reporting
                    err = RuntimeError(f"the load process exited with {proc.exitcode}")
                    loop.call_soon_threadsafe(done.set_exception, err)
                    return
                continue
            if kind == "probe":
                pk, view, doc, key, expect, committed, lsn, *doc_lsn = payload
                probe = Probe(pk, view, doc, key, int(expect), float(committed), lsn_int(lsn))
                if doc_lsn:
                    probe.doc_lsn = lsn_int(doc_lsn[0])
                loop.call_soon_threadsafe(watcher.add, probe)
            elif kind == "done":
                loop.call_soon_threadsafe(done.set_result, payload)
                return

    procs = stack_processes(settings)
    ages0 = stage_buckets(settings, views)
    cpu0 = cpu_snapshot(procs, {"benchmark (readers)": _own_cpu})
    t_start = t_cpu0 = time.monotonic()
    proc = ctx.Process(target=run_load, args=(plan, queue), name=f"sync-load-{rate:g}")
    proc.start()
    threading.Thread(target=pump, daemon=True).start()
    load = await done
    proc.join(30)
    t_stop = t_cpu1 = time.monotonic()
    cpu1 = cpu_snapshot(procs, {"benchmark (readers)": _own_cpu})
    cpu1["benchmark (writer)"] = load.cpu_s
    cpu0["benchmark (writer)"] = 0.0
    final_lsn = lsn_int(load.final_lsn)
    finals = {}
    for view in views:
        finals[view] = Probe("final", view, "", "", 0, t_stop, final_lsn)
        watcher.tokens[view].append(finals[view])
        watcher.tokens[view].sort()

    # The drain: until every view's lag is 0 after the slot confirmed the last change, and every probe settled.
    drain: dict[str, float | None] = {v: None for v in settings.views}
    deadline = t_stop + args.drain_timeout
    while time.monotonic() < deadline:
        for s in sampler.samples[-8:]:
            if s.t < t_stop or s.slot_confirmed < final_lsn:
                continue
            for view, lag in s.lag.items():
                if lag == 0 and drain.get(view) is None:
                    drain[view] = s.t - t_stop
        if all(d is not None for d in drain.values()) and watcher.pending() == 0:
            break
        await asyncio.sleep(0.25)
    t_end = time.monotonic()
    cpu2 = cpu_snapshot(procs, {"benchmark (readers)": _own_cpu})
    stages = stage_summary(ages0, stage_buckets(settings, views))
    await watcher.close()

    def latency(attr: str, probes: list[Probe]) -> list[float]:
        out = []
        for p in probes:
            at = getattr(p, attr)
            out.append(math.inf if at is None else (at - p.committed) * 1000)
        return out

    per_view: dict[str, Any] = {}
    for view in views:
        stock = [p for p in watcher.probes if p.view == view and p.kind == "stock"]
        reads = [p for p in stock if p.token_read]
        gap_tok = [(p.token_at - p.visible_at) * 1000 for p in stock if p.token_at and p.visible_at]
        gap_read = [(p.token_read_at - p.visible_at) * 1000 for p in stock if p.token_read_at and p.visible_at]
        per_view[view] = {
            "doc": summary(latency("visible_at", stock)),
            "token": summary(latency("token_at", stock)),
            "token_read": summary(latency("token_read_at", reads)),
            "token_minus_doc": summary(gap_tok),
            "token_read_minus_doc": summary(gap_read),
            "watermark_drain_ms": _since(finals[view].token_at, t_stop),
        }
    renames = [p for p in watcher.probes if p.kind == "rename"]
    load_s = load.finished - load.started
    samples = [s for s in sampler.samples if t_start - 2 <= s.t <= t_end]
    lag_series = [
        {"t": round(s.t - t_start, 3), "lag": s.lag, "slot_behind_bytes": s.slot_behind_bytes} for s in samples
    ]
    return {
        "rate": rate,
        "load_s": load_s,
        "loadavg_1m_after": os.getloadavg()[0],
        "achieved": load.stock_done / load_s if load_s else 0,
        "stock_changes": load.stock_done,
        "toggles": load.toggles_done,
        "renames_done": load.renames_done,
        "errors": load.errors,
        "dropped": load.dropped,
        "error_sample": load.error_sample,
        "schedule_delay_ms": {"p50": pct(load.schedule_delay_ms, 0.5), "p99": pct(load.schedule_delay_ms, 0.99)},
        "probes_per_s": probe_per_s,
        "views": per_view,
        "stages": stages,
        "renames": {"doc": summary(latency("visible_at", renames)), "token": summary(latency("token_at", renames))},
        "drain_s": drain,
        "max_lag": {v: max((s.lag.get(v, 0) for s in samples), default=0) for v in settings.views},
        "max_slot_behind_bytes": max((s.slot_behind_bytes for s in samples), default=0),
        "lag_series": lag_series,
        "cpu_load_s": {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 2) for k in cpu1},
        "cpu_window_s": t_cpu1 - t_cpu0,
        "cpu_drain_s": {k: round(cpu2.get(k, 0) - cpu1.get(k, 0), 2) for k in cpu2},
        "drain_wait_s": t_end - t_stop,
        "reads": {
            "doc_reads": watcher.stats.doc_reads,
            "doc_read_errors": watcher.stats.doc_read_errors,
            "watermark_reads": watcher.stats.watermark_reads,
            "token_reads": watcher.stats.token_reads,
            "token_503": watcher.stats.token_503,
            "poll_gap_ms": {
                "p50": pct(watcher.stats.poll_gaps_ms, 0.5),
                "p99": pct(watcher.stats.poll_gaps_ms, 0.99),
            },
            "per_s": (watcher.stats.doc_reads + watcher.stats.watermark_reads + watcher.stats.token_reads)
            / max(1e-9, t_end - t_start),
        },
    }


def _since(at: float | None, t0: float) -> float | None:
    return None if at is None else (at - t0) * 1000


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- report ---------------------------------------------------------------------------------------------------------


def print_run(run: dict[str, Any], duration: float) -> None:
    rate, achieved = run["rate"], run["achieved"]
    short = " (NOT achieved)" if achieved < 0.95 * rate else ""
    print(
        f"\n== {rate:g} stock changes/s offered for {duration:g}s: achieved {achieved:.0f}/s{short}; "
        f"{run['stock_changes']} stock changes, {run['toggles']} status toggles, {run['renames_done']} renames, "
        f"{run['errors']} errors, {run.get('dropped', 0)} not written within the duration; "
        f"load average {run.get('loadavg_1m_after', 0):.0f}; "
        f"schedule delay p50 {run['schedule_delay_ms']['p50']:.1f} ms "
        f"p99 {run['schedule_delay_ms']['p99']:.1f} ms"
    )
    print(
        f"{'view':10s} {'probes':>6s} {'doc p50':>8s} {'p99':>7s} {'max':>7s} {'unseen':>6s} | {'token p50':>9s} "
        f"{'p99':>7s} | {'tok-read p50':>12s} {'p99':>7s} {'n':>4s} | {'max lag':>8s} {'drain s':>7s}"
    )
    for view, v in run["views"].items():
        d, t, r = v["doc"], v["token"], v["token_read"]
        drain = run["drain_s"].get(view)
        print(
            f"{view:10s} {d['n']:>6d} {ms(d['p50']):>8s} {ms(d['p99']):>7s} {ms(d['max']):>7s} "
            f"{d['unresolved']:>6d} | {ms(t['p50']):>9s} {ms(t['p99']):>7s} | {ms(r['p50']):>12s} "
            f"{ms(r['p99']):>7s} {r['n']:>4d} | {run['max_lag'].get(view, 0):>8d} "
            f"{'-' if drain is None else f'{drain:.1f}':>7s}"
        )
    rn = run["renames"]["doc"]
    if rn["n"]:
        print(
            f"{'rename':10s} {rn['n']:>6d} {ms(rn['p50']):>8s} {ms(rn['p99']):>7s} {ms(rn['max']):>7s} "
            f"{rn['unresolved']:>6d} | {ms(run['renames']['token']['p50']):>9s} "
            f"{ms(run['renames']['token']['p99']):>7s} |"
        )
    others = [v for v in run["drain_s"] if v not in run["views"]]
    if others:
        print(
            "other views: "
            + ", ".join(
                f"{v} max lag {run['max_lag'].get(v, 0)}, drain "
                + ("-" if run["drain_s"][v] is None else f"{run['drain_s'][v]:.1f}s")
                for v in others
            )
        )
    reads = run["reads"]
    print(
        f"reads: {reads['per_s']:.0f}/s (documents {reads['doc_reads']}, applied position {reads['watermark_reads']}, "
        f"with token {reads['token_reads']} of which 503 {reads['token_503']}); poll gap of a waiting document "
        f"p50 {ms(reads['poll_gap_ms']['p50'])} ms p99 {ms(reads['poll_gap_ms']['p99'])} ms; "
        f"slot behind at most {run['max_slot_behind_bytes'] / 1e6:.1f} MB"
    )
    stages = run.get("stages") or {}
    if stages:
        print(
            "where a change's time went (the sinks' histograms, commit -> stage, p50 / p99 at bucket bounds): "
            + "; ".join(
                f"{view} "
                + ", ".join(f"{st} <={v[st]['p50_le_s']:g} / <={v[st]['p99_le_s']:g} s" for st in STAGES if st in v)
                for view, v in stages.items()
            )
        )
    cpu = sorted(run["cpu_load_s"].items(), key=lambda kv: -kv[1])
    window = run["cpu_window_s"]
    print(
        f"CPU while the load ran ({window:.0f}s with the load process's start; s, cores): "
        + ", ".join(f"{k} {v:.1f} ({v / window:.2f})" for k, v in cpu)
    )


def print_idle(run: dict[str, Any]) -> None:
    print(f"\n== idle token latency: {run['achieved']:.1f} changes/s for {run['load_s']:.0f}s")
    print(
        f"{'view':10s} {'n':>4s} {'doc p50':>8s} {'token p50':>9s} {'tok-read p50':>12s} | "
        f"{'token - doc p50':>15s} {'p99':>6s} | {'tok-read - doc p50':>18s} {'p99':>6s}"
    )
    for view, v in run["views"].items():
        print(
            f"{view:10s} {v['doc']['n']:>4d} {ms(v['doc']['p50']):>8s} {ms(v['token']['p50']):>9s} "
            f"{ms(v['token_read']['p50']):>12s} | {ms(v['token_minus_doc']['p50']):>15s} "
            f"{ms(v['token_minus_doc']['p99']):>6s} | {ms(v['token_read_minus_doc']['p50']):>18s} "
            f"{ms(v['token_read_minus_doc']['p99']):>6s}"
        )


def markdown_table(result: dict[str, Any]) -> str:
    """The per-rate table as docs/benchmarks.md shows it (ms; "never": not visible by the end of the drain)."""
    lines = [
        "| offered/s | achieved/s | view | probes | doc p50 | doc p99 | token p50 | token p99 | max lag | drain s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in result["runs"]:
        rows = [(view, v["doc"], v["token"]) for view, v in run["views"].items()]
        rows.append(("rename (catalog)", run["renames"]["doc"], run["renames"]["token"]))
        for view, d, t in rows:
            if not d["n"]:
                continue
            lag_view = view if view in run["max_lag"] else "catalog"
            drain = run["drain_s"].get(lag_view)
            lines.append(
                f"| {run['rate']:g} | {run['achieved']:.0f} | {view} | {d['n']} | {_md(d['p50'])} | {_md(d['p99'])} "
                f"| {_md(t['p50'])} | {_md(t['p99'])} | {run['max_lag'].get(lag_view, 0)} "
                f"| {'not within the drain wait' if drain is None else f'{drain:.1f}'} |"
            )
    return "\n".join(lines)


def _md(value: Any) -> str:
    if value is None or value == "inf" or (isinstance(value, float) and math.isinf(value)):
        return "never"
    return "-" if isinstance(value, float) and math.isnan(value) else f"{float(value):.0f}"


# -- main -------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,500,1000,2000", help="stock changes per second, comma-separated")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load per rate")
    parser.add_argument(
        "--sample-per-s", type=float, default=100, help="probe changes per second (at most a fifth of the rate)"
    )
    parser.add_argument("--views", default="inventory,catalog", help="views whose visibility is measured")
    parser.add_argument("--out", type=Path, default=Path("docs/bench/sync_rate.json"))
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument(
        "--idle-token", action="store_true", help="2 changes/s, every one a probe: token minus document latency"
    )
    parser.add_argument("--label", default="", help="a name for this result (e.g. before, after)")
    parser.add_argument("--connections", type=int, default=8, help="PostgreSQL connections of the load")
    parser.add_argument("--toggles-per-s", type=float, default=1)
    parser.add_argument("--renames-per-s", type=float, default=2)
    parser.add_argument("--toggle-pool", type=int, default=20, help="locations whose status is toggled")
    parser.add_argument("--watch-locations", type=int, default=4, help="inventory documents read for visibility")
    parser.add_argument("--watch-meals", type=int, default=8, help="catalog documents read for visibility")
    parser.add_argument("--max-reads-per-s", type=float, default=120, help="cap on document reads")
    parser.add_argument("--min-poll-ms", type=float, default=10, help="shortest gap between reads of a document")
    parser.add_argument("--token-poll-ms", type=float, default=25, help="applied-position poll per view")
    parser.add_argument("--token-reads-per-s", type=float, default=2, help="real reads with a token, per view")
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument("--settle-timeout", type=float, default=600, help="wait for lag 0 before each rate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--meals", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.025)
    args = parser.parse_args(argv)
    args.views = [v.strip() for v in args.views.split(",") if v.strip()]
    unknown = set(args.views) - {"inventory", "catalog"}
    if unknown:
        parser.error(f"--views: only inventory and catalog are measured, not {sorted(unknown)}")
    args.rates = [2.0] if args.idle_token else [float(r) for r in args.rates.split(",")]
    if args.idle_token and args.out == Path("docs/bench/sync_rate.json"):
        args.out = Path("docs/bench/sync_rate_idle_token.json")
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    stack_processes(settings)  # fails early when the stack is not running
    sampler = LagSampler(settings)
    sampler.start()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if ensure_dataset(settings, args):
        print("waiting for the views to catch up with the dataset ...")
    waited = wait_quiet(sampler, args.settle_timeout, "before the first rate")
    print(f"views caught up ({waited:.1f}s)")
    data = Dataset(settings, args)
    print(
        f"{len(data.rows)} stock rows; watching {len(data.watched_locations)} locations "
        f"({len(data.probe_rows['inventory'])} rows), {len(data.watched_meals)} meals "
        f"({len(data.probe_rows['catalog'])} rows); toggling {len(data.toggle_status)} locations, "
        f"renaming among {len(data.rename_meals)} meals"
    )
    runs = []
    seq = int(time.time())
    try:
        for rate in args.rates:
            wait_quiet(sampler, args.settle_timeout, f"before {rate:g}/s")
            run = await run_rate(settings, args, data, sampler, rate, seq)
            seq += run["renames_done"] + 1
            runs.append(run)
            if args.idle_token:
                print_idle(run)
            else:
                print_run(run, args.duration)
    finally:
        data.restore(settings)
        sampler.stop()
    return {
        "label": args.label,
        "started_at": started_at,
        "stack": settings.stack_name,
        "command": "python -m benchmarks.sync_rate " + " ".join(_argv()),
        "views": args.views,
        "lag_views": list(settings.views),
        "duration_s": args.duration,
        "idle_token": args.idle_token,
        "dataset": {"stock_rows": len(data.rows), "meals": args.meals, "locations": args.locations},
        "runs": runs,
    }


def _argv() -> list[str]:
    return sys.argv[1:]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(amain(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_safe(result), indent=1) + "\n")
    if not args.idle_token:
        print("\n" + markdown_table(result))
    print(f"\nresult: {args.out}")
    if not args.no_plots and result["runs"]:
        from benchmarks.sync_plots import plot_lag, plot_latency

        stem = args.out.with_suffix("")
        if not args.idle_token:
            plot_latency(result, Path(f"{stem}_latency.png"))
            print(f"plot: {stem}_latency.png")
        plot_lag(result, Path(f"{stem}_lag.png"))
        print(f"plot: {stem}_lag.png")


if __name__ == "__main__":
    main()
