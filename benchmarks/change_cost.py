"""Machine CPU per stock change, by component, net of the idle stack, beside two floors measured in the same run.

What one change costs end to end tells whether a rate fits the machine; what it would cost with only the parts
that cannot be avoided tells how much of that is the sinks' own work. So, on the generated dataset (generated
first when the master lacks it, as benchmarks.sync_rate does), each round measures, one after the other:

- **idle**: cores per component (every supervised program's process tree, the sink workers together as "sinks";
  psutil) and the machine's busy CPU over ``--idle-seconds`` with no load;
- at each rate, in an order that rotates from round to round:
  - **full**: one-row stock changes (benchmarks.sync_load's statements and load process: autocommit, several
    connections, no toggles, renames, probes or readers; ``--mix sales`` by default: a unit sold, a sold-out line
    restocked; ``--cycle-stock`` first puts every line at 0-8 units, where a third of the sales move the level a
    customer sees) for ``--duration`` seconds, then the drain: the
    replication slot has confirmed the last change (``pg_current_wal_insert_lsn()`` after the load) and every
    view's consumer group has no lag;
  - **capture** (floor A): the same load with every sink worker stopped through supervisord, until the slot has
    confirmed the last change; the workers are started again afterwards, and their catch-up is waited out (healthy,
    lag 0) before anything else is measured;
  - **es** (floor B): into a scratch index (1 shard, 0 replicas, refresh every 1 s, a small strict mapping), two
    small documents per change (a stock line and its location's summary, ids from the dataset's stock rows, so
    they are updates), one ``_bulk`` every 100 ms from this process, at the same rate for the same duration, then
    two refresh intervals.

CPU over a window (load and drain) minus the round's idle cores times the window, divided by the changes
committed, is milliseconds of CPU per change. The "benchmark" row is the load process and this process (the
lag sampler, and the ``_bulk`` client of floor B); "(machine busy minus benchmark)" is the machine without them.
With the sinks stopped, their idle cores are not subtracted from the machine's. The lag sampler (one sample per
0.5 s) runs in every window, the idle one included, so its cost cancels out. A window during which a supervised
program restarted, or a drain that timed out, is reported and left out of the table.

    .venv/bin/python -m benchmarks.change_cost --rates 100,300 --duration 30 --rounds 3

Measure warm: JVMs restarted a few minutes earlier (Kafka, Connect, Elasticsearch) still compile and inflate
every figure. Run against a stack nobody else uses: the capture floor stops its sink workers.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Empty
from typing import Any, NamedTuple

import httpx
import psycopg
from elasticsearch import Elasticsearch

from benchmarks.sync_load import MIXES, PAR, LoadPlan, LoadResult, Row, run_load
from benchmarks.sync_rate import ensure_dataset, pct, wait_quiet
from benchmarks.sync_watch import (
    MACHINE,
    LagSampler,
    by_component,
    cpu_snapshot,
    json_safe,
    stack_processes,
    tree_cpu,
)
from farmacy.lsn import lsn_int
from farmacy.settings import Settings
from ops.workers import SupervisorWorkers

BENCH = "benchmark (load + this process)"
STACK = "(machine busy minus benchmark)"
SINKS = "sinks"  # sync_watch.by_component's name for every sink worker
MODES = ("full", "capture", "es")
MODE_TITLES = {"full": "full path", "capture": "capture A", "es": "ES B"}
BULK_EVERY_S = 0.1
ES_TAIL_S = 2.0  # two refresh intervals of the scratch index: the last documents' refresh is in the window
# --cycle-stock: every generated line to a level the sales mix cycles through (0..PAR units available, spread by
# a hash of its key), with the ledger rows that keep the adjustments summing to on_hand. Lines that already hold
# their level are left alone, so a second run changes nothing.
CYCLE_STOCK_SQL = f"""
WITH target AS (
    SELECT s.location_id, s.meal_id, s.on_hand AS old,
           s.reserved + abs(hashtext(s.location_id::text || s.meal_id::text)) % ({PAR} + 1) AS on_hand
      FROM inventory.stock s JOIN inventory.locations l ON l.id = s.location_id
     WHERE l.code LIKE 'GEN-%%'),
u AS (
    UPDATE inventory.stock s SET on_hand = t.on_hand, version = s.version + 1, updated_at = now()
      FROM target t
     WHERE s.location_id = t.location_id AND s.meal_id = t.meal_id AND s.on_hand <> t.on_hand
 RETURNING s.location_id, s.meal_id, t.on_hand - t.old AS delta)
INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note)
SELECT location_id, meal_id, delta, 'correction', 'bench-change-cost', 'benchmarks.change_cost --cycle-stock' FROM u
"""
STOCK_ROWS = """
SELECT s.location_id::text, s.meal_id::text
  FROM inventory.stock s
  JOIN inventory.locations l ON l.id = s.location_id
  JOIN catalog.meals m ON m.id = s.meal_id
 WHERE l.code LIKE 'GEN-%' AND l.kind = 'smart_fridge' AND m.status = 'active'
 ORDER BY 1, 2"""  # the rows benchmarks.sync_rate changes
SCRATCH_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "doc_type": {"type": "keyword"},
        "location_id": {"type": "keyword"},
        "meal_id": {"type": "keyword"},
        "status": {"type": "keyword"},
        "on_hand": {"type": "integer"},
        "reserved": {"type": "integer"},
        "available": {"type": "integer"},
        "meals": {"type": "integer"},
        "updated_at": {"type": "date"},
    },
}


# -- CPU accounting -------------------------------------------------------------------------------------------------


def own_tree_cpu() -> float:
    """This process and its children: the load process while it runs, and once it has been waited for (through
    the children_* times)."""
    return tree_cpu(os.getpid())


class Closed(NamedTuple):
    seconds: float
    cpu: dict[str, float]  # CPU seconds per component
    restarted: list[str]  # programs whose process changed meanwhile: a restarted program's tree starts from zero
    wal_bytes: int  # WAL written meanwhile (by anyone: a check that the idle stack was idle)


@dataclass
class Window:
    """CPU seconds per component between two snapshots of the same processes, and the WAL written meanwhile."""

    procs: dict[str, int]
    started: float
    before: dict[str, float]
    wal: int

    @classmethod
    def open(cls, settings: Settings, procs: dict[str, int] | None = None) -> Window:
        """From now; ``procs``: the stack's processes, looked up beforehand when the window must open quickly."""
        procs = stack_processes(settings) if procs is None else procs
        return cls(procs, time.monotonic(), snapshot(procs), wal_position(settings))

    def close(self, settings: Settings) -> Closed:
        after = snapshot(self.procs)
        seconds = time.monotonic() - self.started
        wal = wal_position(settings)
        now = stack_processes(settings)
        changed = sorted(p for p in set(self.procs) | set(now) if self.procs.get(p) != now.get(p))
        return Closed(seconds, {k: after[k] - self.before.get(k, 0.0) for k in after}, changed, wal - self.wal)


def wal_position(settings: Settings) -> int:
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return lsn_int(str(row[0])) if row else 0


def snapshot(procs: dict[str, int]) -> dict[str, float]:
    return by_component(cpu_snapshot(procs, {BENCH: own_tree_cpu}))


def ms_per_change(
    cpu: dict[str, float], idle: dict[str, float], seconds: float, changes: int, stopped: frozenset[str] = frozenset()
) -> dict[str, float]:
    """CPU ms per change net of the idle cores; the idle cores of ``stopped`` components are not the machine's."""
    idle_machine = idle.get(MACHINE, 0.0) - sum(idle.get(c, 0.0) for c in stopped)
    out = {
        comp: (s - (idle_machine if comp == MACHINE else idle.get(comp, 0.0)) * seconds) * 1000 / changes
        for comp, s in cpu.items()
        if comp not in stopped
    }
    out[STACK] = out[MACHINE] - out[BENCH]
    return out


# -- the drain ------------------------------------------------------------------------------------------------------


def wait_drained(sampler: LagSampler, after: float, final_lsn: int, lag: bool, timeout: float) -> float | None:
    """Seconds from ``after`` until a sample shows the slot has confirmed ``final_lsn`` and, with ``lag``, a later
    sample (its offsets read after that confirmation) shows every view's lag at 0; None after ``timeout``."""
    deadline = after + timeout
    first = len(sampler.samples)  # the samples before the call are all older than ``after``
    while time.monotonic() < deadline:
        confirmed: float | None = None
        for s in sampler.samples[first:]:
            if s.t <= after:
                continue
            if confirmed is None:
                if s.slot_confirmed >= final_lsn:
                    confirmed = s.t
                    if not lag:
                        return confirmed - after
            elif s.t > confirmed and all(v == 0 for v in s.lag.values()):
                return s.t - after
        time.sleep(0.1)
    return None


def settle(sampler: LagSampler, args: argparse.Namespace, what: str) -> None:
    """Lag 0 on a fresh sample, then ``--settle`` seconds, so one measurement's tail stays out of the next."""
    wait_quiet(sampler, args.settle_timeout, what)
    time.sleep(args.settle)


# -- modes --------------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    round: int
    rate: float
    mode: str
    changes: int = 0
    load_s: float = 0.0
    window_s: float = 0.0
    drain_s: float | None = None  # full: the views' drain; capture: the slot's confirmation
    errors: int = 0
    dropped: int = 0
    schedule_delay_p99_ms: float = math.nan
    loadavg_1m: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    ms_per_change: dict[str, float] = field(default_factory=dict)
    restarted: list[str] = field(default_factory=list)  # programs whose process changed during the window
    wal_bytes: int = 0
    docs_written: dict[str, int] = field(default_factory=dict)  # full: documents each view indexed in the window

    @property
    def complete(self) -> bool:
        return self.changes > 0 and not self.restarted and (self.mode == "es" or self.drain_s is not None)


def sql_load(
    settings: Settings,
    args: argparse.Namespace,
    rows: list[Row],
    rate: float,
    seed: int,
    sampler: LagSampler,
    lag: bool,
) -> tuple[LoadResult, float | None, Window]:
    """benchmarks.sync_load's stock changes only, in its own process; the window opens once its connections are up
    (the interpreter's start is not a change's cost) and is returned open, after the drain."""
    plan = LoadPlan(
        dsn=settings.pg_dsn,
        rate=rate,
        duration=args.duration,
        connections=args.connections,
        rows=rows,
        probe_rows={},
        probe_per_s=0,
        toggles_per_s=0,
        toggle_locations=[],
        renames_per_s=0,
        rename_meals={},
        seed=seed,
        seq_start=0,
        mix=args.mix,
    )
    ctx = multiprocessing.get_context("spawn")
    queue: Any = ctx.Queue()
    proc = ctx.Process(target=run_load, args=(plan, queue), name=f"change-cost-load-{rate:g}")
    procs = stack_processes(settings)  # the load starts as it says so: the window must open at once
    proc.start()
    window: Window | None = None
    result: LoadResult | None = None
    while result is None:
        try:
            kind, payload = queue.get(timeout=5)
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"the load process exited with {proc.exitcode}") from None
            continue
        if kind == "started":
            window = Window.open(settings, procs)
        elif kind == "done":
            result = payload
    proc.join(30)
    assert window is not None
    stopped = time.monotonic()
    drain = wait_drained(sampler, stopped, lsn_int(result.final_lsn), lag, args.drain_timeout)
    return result, drain, window


def run_sql_mode(
    settings: Settings,
    args: argparse.Namespace,
    rows: list[Row],
    sampler: LagSampler,
    idle: dict[str, float],
    m: Measured,
    seed: int,
) -> None:
    """full (``lag``: every view drained) or capture (the sink workers stopped: the slot's confirmation only)."""
    capture = m.mode == "capture"
    if not capture:
        before = views_indexed(settings)
        load, m.drain_s, window = sql_load(settings, args, rows, m.rate, seed, sampler, lag=True)
        m.window_s, m.cpu_s, m.restarted, m.wal_bytes = window.close(settings)
        after = views_indexed(settings)
        m.docs_written = {view: after[view] - before.get(view, 0) for view in after}
    else:
        workers = SupervisorWorkers(settings)
        members = [p for p in stack_processes(settings) if sink_worker(settings, p) is not None]
        try:
            for view in settings.views:
                workers.stop(view)
            load, m.drain_s, window = sql_load(settings, args, rows, m.rate, seed, sampler, lag=False)
            m.window_s, m.cpu_s, m.restarted, m.wal_bytes = window.close(settings)
        finally:
            for view in settings.views:
                workers.start(view)
            wait_sinks_healthy(settings, members, args.restore_timeout)
    m.changes, m.errors, m.dropped = load.stock_done, load.errors, load.dropped
    m.load_s = load.finished - load.started
    m.schedule_delay_p99_ms = pct(load.schedule_delay_ms, 0.99)
    m.loadavg_1m = os.getloadavg()[0]
    if m.changes:
        stopped = frozenset({SINKS}) if capture else frozenset()
        m.ms_per_change = ms_per_change(m.cpu_s, idle, m.window_s, m.changes, stopped)


def views_indexed(settings: Settings) -> dict[str, int]:
    """Documents indexed so far into each view's index (primaries; Elasticsearch's _stats)."""
    with Elasticsearch(settings.elasticsearch_url, request_timeout=30) as es:
        stats = es.indices.stats(index=",".join(settings.views), metric="indexing").body["indices"]
    out: dict[str, int] = {}
    for index, body in stats.items():
        view = index.rsplit("-v", 1)[0]
        out[view] = out.get(view, 0) + int(body["primaries"]["indexing"]["index_total"])
    return out


def sink_worker(settings: Settings, process: str) -> tuple[str, int] | None:
    """(view, worker) of a supervised sink process: ``sink-<view>`` (a view's only worker) or ``sink-<view>-<i>``
    (worker i of several), with or without its ``group:`` prefix; None for any other program."""
    name = process.split(":")[-1]
    for view in settings.views:
        program = f"sink-{view}"
        if name == program:
            return view, 0
        index = name.removeprefix(f"{program}-")
        if index != name and index.isdigit():
            return view, int(index)
    return None


def wait_sinks_healthy(settings: Settings, members: list[str], timeout: float) -> None:
    """Every sink worker that ran before answers 200 on its /health."""
    deadline = time.monotonic() + timeout
    waiting = {w for p in members if (w := sink_worker(settings, p)) is not None}
    while waiting and time.monotonic() < deadline:
        for view, worker in sorted(waiting):
            try:
                ok = httpx.get(f"http://127.0.0.1:{settings.sink_port(view, worker)}/health", timeout=3).is_success
            except httpx.HTTPError:
                ok = False
            if ok:
                waiting.discard((view, worker))
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise SystemExit(
            f"sink workers (view, worker) not healthy {timeout:.0f}s after their restart: {sorted(waiting)}"
        )


class ScratchIndex:
    """Floor B's index: the stock lines of the dataset and their locations' summaries, written as updates."""

    def __init__(self, settings: Settings, rows: list[Row], seed: int) -> None:
        self.es = Elasticsearch(settings.elasticsearch_urls, request_timeout=60)
        self.name = f"{settings.stack_name}-bench-change-cost"
        self.rows = rows
        self.rng = random.Random(seed)
        self.lines_at = Counter(loc for loc, _ in rows)
        self.on_hand: dict[str, int] = {}
        self.errors = 0

    def create(self) -> None:
        """A fresh index holding every document once, so that floor B only ever updates."""
        self.es.options(ignore_status=404).indices.delete(index=self.name)
        self.es.indices.create(
            index=self.name,
            settings={"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
            mappings=SCRATCH_MAPPING,
        )
        for i in range(0, len(self.rows), 2000):
            self._bulk(self.rows[i : i + 2000], version=1)
        self.es.indices.refresh(index=self.name)
        self.errors = 0

    def delete(self) -> None:
        self.es.options(ignore_status=404).indices.delete(index=self.name)
        self.es.close()

    def _bulk(self, rows: list[Row], version: int) -> None:
        """A stock line and its location's summary per row, versioned as the sinks version theirs."""
        stamp = datetime.now(UTC).isoformat()
        ops: list[dict[str, Any]] = []
        for loc, meal in rows:
            line = f"{loc}/{meal}"
            on_hand = self.on_hand[line] = self.on_hand.get(line, 0) + self.rng.randint(1, 5)
            total = self.on_hand[loc] = self.on_hand.get(loc, 0) + on_hand
            head = {"_index": self.name, "version": version, "version_type": "external_gte"}
            ops += [{"index": {**head, "_id": line}}]
            ops += [
                {
                    "doc_type": "stock",
                    "location_id": loc,
                    "meal_id": meal,
                    "on_hand": on_hand,
                    "reserved": 0,
                    "available": on_hand,
                    "updated_at": stamp,
                }
            ]
            ops += [{"index": {**head, "_id": loc}}]
            ops += [
                {
                    "doc_type": "location",
                    "location_id": loc,
                    "status": "online",
                    "meals": self.lines_at[loc],
                    "on_hand": total,
                    "updated_at": stamp,
                }
            ]
        resp = self.es.bulk(operations=ops)
        if resp["errors"]:
            self.errors += sum(1 for item in resp["items"] if next(iter(item.values())).get("error"))

    def load(self, rate: float, duration: float) -> tuple[int, float, list[float]]:
        """Changes written at ``rate`` for ``duration`` seconds, one _bulk every 100 ms; returns the changes, the
        seconds it took and each _bulk's lateness (ms)."""
        total = int(rate * duration)
        start = time.monotonic()
        sent, tick = 0, 0
        late: list[float] = []
        while sent < total:
            tick += 1
            due = start + tick * BULK_EVERY_S
            time.sleep(max(0.0, due - time.monotonic()))
            late.append((time.monotonic() - due) * 1000)
            target = min(total, int(rate * (time.monotonic() - start)))
            if target > sent:
                self._bulk([self.rng.choice(self.rows) for _ in range(target - sent)], version=time.time_ns() // 1000)
                sent = target
        return sent, time.monotonic() - start, late


def run_es_mode(
    scratch: ScratchIndex, settings: Settings, args: argparse.Namespace, idle: dict[str, float], m: Measured
) -> None:
    window = Window.open(settings)
    scratch.errors = 0
    m.changes, m.load_s, late = scratch.load(m.rate, args.duration)
    time.sleep(ES_TAIL_S)
    m.window_s, m.cpu_s, m.restarted, m.wal_bytes = window.close(settings)
    m.errors = scratch.errors
    m.schedule_delay_p99_ms = pct(late, 0.99)
    m.loadavg_1m = os.getloadavg()[0]
    if m.changes:
        m.ms_per_change = ms_per_change(m.cpu_s, idle, m.window_s, m.changes)


def measure_idle(settings: Settings, seconds: float, attempts: int = 3) -> tuple[dict[str, float], Closed]:
    """Cores per component; measured again (up to ``attempts`` times) while a program restarts meanwhile, since a
    restarted program's figure is meaningless. Returns the cores and the last window."""
    for attempt in range(1, attempts + 1):
        window = Window.open(settings)
        time.sleep(seconds)
        closed = window.close(settings)
        if closed.restarted:
            print(f"  warning: restarted during idle window {attempt}: {', '.join(closed.restarted)}", flush=True)
        if not closed.restarted:
            break
    return {k: v / closed.seconds for k, v in closed.cpu.items()}, closed


# -- report ----------------------------------------------------------------------------------------------------------


def spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "median": math.nan, "min": math.nan, "max": math.nan}
    return {"n": len(values), "median": statistics.median(values), "min": min(values), "max": max(values)}


def fmt(s: dict[str, float], digits: int = 2) -> str:
    if not s["n"]:
        return "-"
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def summarize(runs: list[Measured], rate: float) -> dict[str, dict[str, dict[str, float]]]:
    """Per component: full path, capture A, ES B, their sum (the floor) and, for the machine rows, full / floor,
    each over the rounds (a floor and a ratio only from rounds where its parts are all complete)."""
    by = {mode: {m.round: m for m in runs if m.rate == rate and m.mode == mode and m.complete} for mode in MODES}
    full, cap, es = by["full"], by["capture"], by["es"]
    comps = sorted(
        {c for m in full.values() for c in m.ms_per_change} - {MACHINE, BENCH, STACK},
        key=lambda c: -statistics.median([m.ms_per_change.get(c, 0.0) for m in full.values()] or [0.0]),
    )
    out: dict[str, dict[str, dict[str, float]]] = {}
    for comp in [*comps, MACHINE, BENCH, STACK]:
        floors = {r: cap[r].ms_per_change.get(comp, 0.0) + es[r].ms_per_change.get(comp, 0.0) for r in cap if r in es}
        row = {
            "full": spread([m.ms_per_change[comp] for m in full.values() if comp in m.ms_per_change]),
            "capture": spread([m.ms_per_change[comp] for m in cap.values() if comp in m.ms_per_change]),
            "es": spread([m.ms_per_change[comp] for m in es.values() if comp in m.ms_per_change]),
            "floor": spread(list(floors.values())),
        }
        if comp in (MACHINE, STACK):
            row["full_over_floor"] = spread(
                [full[r].ms_per_change[comp] / f for r, f in floors.items() if r in full and f > 0]
            )
        out[comp] = row
    return out


def print_measured(m: Measured) -> None:
    drain = "" if m.drain_s is None else f", {'drain' if m.mode == 'full' else 'slot confirmed'} {m.drain_s:.1f}s"
    if m.mode != "es" and m.drain_s is None:
        drain = ", NOT drained within the timeout"
    top = sorted(((k, v) for k, v in m.ms_per_change.items() if k not in (MACHINE, STACK)), key=lambda kv: -kv[1])[:5]
    docs = ", ".join(f"{v} {n / m.changes:.2f}" for v, n in sorted(m.docs_written.items())) if m.changes else ""
    print(
        f"  round {m.round} {m.rate:g}/s {MODE_TITLES[m.mode]}: {m.changes} changes "
        f"({m.changes / m.load_s if m.load_s else 0:.0f}/s), {m.errors} errors{drain}, window {m.window_s:.1f}s, "
        f"load average {m.loadavg_1m:.1f}, WAL {m.wal_bytes / max(1, m.changes):.0f} B/change; "
        + (f"documents written per change: {docs}; " if docs else "")
        + f"ms/change: machine {m.ms_per_change.get(MACHINE, math.nan):.2f}, "
        + ", ".join(f"{k} {v:.2f}" for k, v in top)
        + (f"; RESTARTED meanwhile: {', '.join(m.restarted)} (left out)" if m.restarted else ""),
        flush=True,
    )


def print_tables(result: dict[str, Any]) -> None:
    for rate_text, table in result["summary"].items():
        runs = [m for m in result["runs"] if m["rate"] == float(rate_text)]
        drains = [m["drain_s"] for m in runs if m["mode"] == "full" and m["drain_s"] is not None]
        confirms = [m["drain_s"] for m in runs if m["mode"] == "capture" and m["drain_s"] is not None]
        print(
            f"\n{float(rate_text):g} changes/s for {result['duration_s']:g}s, {result['rounds']} rounds; "
            f"ms of CPU per change net of the idle stack, median (min-max); full path drain "
            f"{fmt(spread(drains), 1)} s, capture A slot confirmed {fmt(spread(confirms), 1)} s after the load\n"
        )
        print("| component | full path | floor (A + B) | capture A | ES B | full / floor |")
        print("| --- | --- | --- | --- | --- | --- |")
        for comp, row in table.items():
            ratio = fmt(row["full_over_floor"]) if "full_over_floor" in row else ""
            print(
                f"| {comp} | {fmt(row['full'])} | {fmt(row['floor'])} | {fmt(row['capture'])} | {fmt(row['es'])} "
                f"| {ratio} |"
            )
    idle = [i for i in result["idle"] if not i["restarted"]]
    print(f"\nidle, {result['idle_seconds']:g}s per round: cores per component, median (min-max)\n")
    print("| component | cores |\n| --- | --- |")
    comps = sorted(
        {c for i in idle for c in i["cores"]}, key=lambda c: -statistics.median(i["cores"].get(c, 0) for i in idle)
    )
    for comp in comps:
        print(f"| {comp} | {fmt(spread([i['cores'][comp] for i in idle if comp in i['cores']]), 3)} |")
    left_out = [m for m in result["runs"] if not m["complete"]]
    if left_out:
        print(
            "\nleft out: " + "; ".join(f"round {m['round']} {m['rate']:g}/s {MODE_TITLES[m['mode']]}" for m in left_out)
        )


# -- main -------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="100,300", help="stock changes per second, comma-separated")
    parser.add_argument("--duration", type=float, default=30, help="seconds of load per rate and mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=15, help="the idle window of each round")
    parser.add_argument("--out", type=Path, default=Path("docs/bench/change_cost.json"))
    parser.add_argument("--label", default="", help="a name for this result (e.g. before, after)")
    parser.add_argument("--connections", type=int, default=8, help="PostgreSQL connections of the load")
    parser.add_argument("--drain-timeout", type=float, default=120, help="after the load, for the drain")
    parser.add_argument("--settle-timeout", type=float, default=600, help="wait for lag 0 before each window")
    parser.add_argument("--settle", type=float, default=5, help="seconds of quiet after lag 0, before each window")
    parser.add_argument("--restore-timeout", type=float, default=120, help="for the sink workers to be healthy")
    parser.add_argument(
        "--mix",
        choices=MIXES,
        default="sales",
        help="the changes: sales (one unit sold, a sold-out line restocked to 8: every level in turn) or replenish "
        "(1-5 units added: a line's level rarely moves)",
    )
    parser.add_argument(
        "--cycle-stock",
        action="store_true",
        help="first set every generated line to 0-8 units (with ledger corrections): the sales mix's steady state, "
        "where about a third of the changes move a level (the generated dataset holds tens of units per line)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--meals", type=int, default=10_000)
    parser.add_argument("--locations", type=int, default=200)
    parser.add_argument("--density", type=float, default=0.025)
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if not args.rates or min(args.rates) <= 0 or args.rounds < 1:
        parser.error("--rates: positive numbers; --rounds: at least 1")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    stack_processes(settings)  # fails early when the stack is not running
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sampler = LagSampler(settings)
    sampler.start()
    idle: list[dict[str, Any]] = []
    runs: list[Measured] = []
    scratch: ScratchIndex | None = None
    try:
        if ensure_dataset(settings, args):
            print("waiting for the views to catch up with the dataset ...")
        if args.cycle_stock:
            with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
                changed = conn.execute(CYCLE_STOCK_SQL).rowcount
            print(f"--cycle-stock: {changed} stock lines set to 0-{PAR} units (ledger corrected); views catching up")
        with psycopg.connect(settings.pg_dsn) as conn:
            rows: list[Row] = [(r[0], r[1]) for r in conn.execute(STOCK_ROWS).fetchall()]
        if not rows:
            raise SystemExit("no generated stock rows in the master")
        scratch = ScratchIndex(settings, rows, args.seed)
        scratch.create()
        print(f"{len(rows)} stock rows; scratch index {scratch.name}", flush=True)
        for rnd in range(1, args.rounds + 1):
            settle(sampler, args, f"before round {rnd}")
            cores, closed = measure_idle(settings, args.idle_seconds)
            idle_restarted = closed.restarted
            wal_rate = closed.wal_bytes / closed.seconds
            idle.append({"round": rnd, "cores": cores, "restarted": idle_restarted, "wal_bytes_per_s": wal_rate})
            print(
                f"round {rnd} idle: machine {cores[MACHINE]:.3f} cores, sinks {cores.get(SINKS, 0):.3f}, "
                f"benchmark {cores[BENCH]:.3f}; WAL {wal_rate / 1000:.1f} kB/s written",
                flush=True,
            )
            for rate in args.rates:
                shift = (rnd - 1) % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    settle(sampler, args, f"before round {rnd} {rate:g}/s {mode}")
                    m = Measured(rnd, rate, mode)
                    if mode == "es":
                        run_es_mode(scratch, settings, args, cores, m)
                    else:
                        seed = args.seed * 1000 + rnd * 10 + MODES.index(mode) + int(rate) * 100_000
                        run_sql_mode(settings, args, rows, sampler, cores, m, seed)
                    m.restarted += [f"{p} (idle window)" for p in idle_restarted]
                    runs.append(m)
                    print_measured(m)
    finally:
        sampler.stop()
        if scratch is not None:
            scratch.delete()
    return {
        "label": args.label,
        "started_at": started_at,
        "stack": settings.stack_name,
        "command": "python -m benchmarks.change_cost " + " ".join(sys.argv[1:]),
        "rates": args.rates,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "idle_seconds": args.idle_seconds,
        "connections": args.connections,
        "dataset": {"stock_rows": len(rows)},
        "idle": idle,
        "runs": [{**vars(m), "complete": m.complete} for m in runs],
        "summary": {f"{rate:g}": summarize(runs, rate) for rate in args.rates},
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Stopped from outside (SIGTERM, or SIGINT from a terminal): unwind, so the capture floor's finally starts the
    # sink workers it stopped.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
    result = run(args)
    print_tables(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_safe(result), indent=1) + "\n")
    print(f"\nresult: {args.out}")


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    main()
