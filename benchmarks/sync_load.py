"""The write side of benchmarks.sync_rate: a paced load of row changes straight into PostgreSQL.

Runs in its own process (so the readers that measure visibility do not slow the pacing down) with several
connections. Every change is one autocommit statement, written the way the command side writes it:

- stock change: `on_hand + delta` (a replenishment, delta 1..5) with `version + 1` and `updated_at = now()`,
  and the ledger row (`inventory.adjustments`, append-only, its deltas sum to on_hand) in the same statement.
  on_hand only grows, so a reader that sees a value >= the one this change returned sees this change;
- catalog probe: the catalog shows a level per location, not a count, so its probes move a row's level (to 1 unit
  available, low, or to LOW_STOCK_AT + 3, available) the same way, and report the WAL insert position read
  inside the statement: a meal document built from a snapshot at or past it and showing the new level shows the
  change. Plain changes never touch those rows (their level would move behind the probes' back);
- location status toggle: online <-> maintenance (both valid for a smart fridge);
- meal rename: `<original name> ~<sequence number>`.

Some stock changes are probes: their row is one of the watched documents' rows, and the process reports
them (with their commit time and WAL position) to the measuring process through a queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from typing import Any

import psycopg

from farmacy.vocabulary import LOW_STOCK_AT, StockLevel, stock_level

STOCK_SQL = """
WITH u AS (
    UPDATE inventory.stock SET on_hand = on_hand + %(d)s, version = version + 1, updated_at = now()
     WHERE location_id = %(l)s AND meal_id = %(m)s RETURNING on_hand, reserved),
a AS (
    INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note)
    SELECT %(l)s, %(m)s, %(d)s, 'replenish', 'bench-sync-rate', 'benchmarks.sync_rate' FROM u)
SELECT on_hand, reserved FROM u"""


def _rewrite_sql(on_hand: str, reason: str, returning: str) -> str:
    """One statement that sets a stock row's on_hand to ``on_hand`` (an expression over the row's ``old`` values),
    writes the ledger row of the difference with ``reason`` (an expression over ``delta``), and returns
    ``returning`` (over ``u``)."""
    return f"""
WITH old AS (
    SELECT on_hand, reserved FROM inventory.stock WHERE location_id = %(l)s AND meal_id = %(m)s FOR UPDATE),
u AS (
    UPDATE inventory.stock s
       SET on_hand = {on_hand}, version = version + 1, updated_at = now()
      FROM old
     WHERE s.location_id = %(l)s AND s.meal_id = %(m)s
 RETURNING s.on_hand, s.reserved, s.on_hand - old.on_hand AS delta),
a AS (
    INSERT INTO inventory.adjustments (location_id, meal_id, delta, reason, actor, note)
    SELECT %(l)s, %(m)s, delta, {reason}, 'bench-sync-rate', 'benchmarks.sync_rate' FROM u)
SELECT {returning} FROM u"""


# A catalog probe: the row's level flips (low <-> available), with its ledger row, in one statement.
LEVEL_SQL = _rewrite_sql(
    f"CASE WHEN old.on_hand - old.reserved > {LOW_STOCK_AT} THEN old.reserved + 1 "
    f"ELSE old.reserved + {LOW_STOCK_AT} + 3 END",
    "CASE WHEN delta > 0 THEN 'replenish' ELSE 'remove' END",
    "on_hand, reserved, pg_current_wal_insert_lsn()::text",
)
# The "sales" mix (benchmarks.change_cost --mix sales): a sale takes one unit while there is one; a line sold out is
# replenished to PAR units. So a line cycles through every level (available, low, none) as stock really does, and
# about a third of the changes move a level (PAR - LOW_STOCK_AT, LOW_STOCK_AT and the replenishment).
PAR = 8
SALE_SQL = _rewrite_sql(
    f"CASE WHEN old.on_hand - old.reserved > 0 THEN old.on_hand - 1 ELSE old.reserved + {PAR} END",
    "CASE WHEN delta > 0 THEN 'replenish' ELSE 'sale' END",
    "on_hand, reserved",
)
MIXES = ("replenish", "sales")
# Catalog probes report a level as a number (Probe.expect is an int); benchmarks.sync_watch reads the levels a
# document shows (their names: StockLevel is a str enum) through the same table.
LEVEL_CODES: dict[str, int] = {StockLevel.LOW: 1, StockLevel.AVAILABLE: 2}
TOGGLE_SQL = """
UPDATE inventory.locations
   SET status = CASE status WHEN 'online' THEN 'maintenance' ELSE 'online' END,
       version = version + 1, updated_at = now()
 WHERE id = %s AND kind = 'smart_fridge' RETURNING status"""
RENAME_SQL = "UPDATE catalog.meals SET name = %s, version = version + 1, updated_at = now() WHERE id = %s"
LSN_SQL = "SELECT pg_current_wal_insert_lsn()::text"  # what the command API returns as the consistency token

Row = tuple[str, str]  # (location_id, meal_id)


@dataclass(frozen=True)
class LoadPlan:
    dsn: str
    rate: float  # stock changes per second
    duration: float
    connections: int
    rows: list[Row]
    # Probe rows per view ("inventory": rows of the watched locations, "catalog": rows of the watched meals at
    # operational locations that are never toggled).
    probe_rows: dict[str, list[Row]]
    probe_per_s: float
    toggles_per_s: float
    toggle_locations: list[str]
    renames_per_s: float
    rename_meals: dict[str, str]  # meal id -> original name
    seed: int
    seq_start: int  # rename sequence numbers keep growing across runs
    mix: str = "replenish"  # plain changes: replenishments (STOCK_SQL) or sales and restocking (SALE_SQL)


@dataclass
class LoadResult:
    started: float = 0.0
    finished: float = 0.0
    stock_done: int = 0
    toggles_done: int = 0
    renames_done: int = 0
    errors: int = 0
    dropped: int = 0  # changes due within the duration that no connection could start before it ended
    error_sample: list[str] = field(default_factory=list)
    schedule_delay_ms: list[float] = field(default_factory=list)  # start of each change minus its due time
    final_lsn: str = ""
    cpu_s: float = 0.0


def run_load(plan: LoadPlan, out: Queue[Any]) -> None:
    """Process entry point: runs the plan, reporting probes and finally the LoadResult on `out`."""
    result = asyncio.run(_run(plan, out))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_s = usage.ru_utime + usage.ru_stime
    out.put(("done", result))


async def _run(plan: LoadPlan, out: Queue[Any]) -> LoadResult:
    rng = random.Random(plan.seed)
    result = LoadResult()
    conns = [await psycopg.AsyncConnection.connect(plan.dsn, autocommit=True) for _ in range(plan.connections)]
    jobs: asyncio.Queue[tuple[str, float, Any] | None] = asyncio.Queue()
    probe_every = max(1, round(plan.rate / plan.probe_per_s)) if plan.probe_per_s > 0 else 0
    probe_views = [v for v, rows in plan.probe_rows.items() if rows]
    seq = plan.seq_start

    def stock_job(i: int) -> Any:
        if probe_every and i % probe_every == 0 and probe_views:
            view = probe_views[(i // probe_every) % len(probe_views)]
            return ("probe", view, rng.choice(plan.probe_rows[view]))
        return ("plain", "", rng.choice(plan.rows))

    def toggle_job(i: int) -> Any:
        return plan.toggle_locations[i % len(plan.toggle_locations)]

    def rename_job(i: int) -> Any:
        nonlocal seq
        seq += 1
        meal = rng.choice(list(plan.rename_meals))
        return (meal, f"{plan.rename_meals[meal][:180]} ~{seq}", seq)

    async def pace(kind: str, rate: float, make: Any) -> None:
        if rate <= 0:
            return
        issued = 0
        total = int(plan.duration * rate)
        while issued < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            while issued < due:
                jobs.put_nowait((kind, start + issued / rate, make(issued)))
                issued += 1
            await asyncio.sleep(min(0.002, 1 / rate))

    async def worker(conn: psycopg.AsyncConnection[Any]) -> None:
        while (job := await jobs.get()) is not None:
            kind, due, arg = job
            began = time.monotonic()
            if began > start + plan.duration:
                result.dropped += 1  # the load lasts DURATION: what could not be written by then is not
                continue
            result.schedule_delay_ms.append((began - due) * 1000)
            try:
                await _apply(conn, kind, arg, out, plan, result)
            except psycopg.Error as exc:
                result.errors += 1
                if len(result.error_sample) < 5:
                    result.error_sample.append(f"{kind}: {exc}")
                if conn.closed:
                    conn = await psycopg.AsyncConnection.connect(plan.dsn, autocommit=True)

    start = time.monotonic()
    result.started = start
    out.put(("started", start))
    workers = [asyncio.create_task(worker(c)) for c in conns]
    await asyncio.gather(
        pace("stock", plan.rate, stock_job),
        pace("toggle", plan.toggles_per_s, toggle_job),
        pace("rename", plan.renames_per_s, rename_job),
    )
    for _ in workers:
        jobs.put_nowait(None)
    await asyncio.gather(*workers)
    result.finished = time.monotonic()
    row = await (await conns[0].execute(LSN_SQL)).fetchone()
    result.final_lsn = str(row[0]) if row else ""
    for c in conns:
        with contextlib.suppress(psycopg.Error):
            await c.close()
    return result


async def _apply(
    conn: psycopg.AsyncConnection[Any], kind: str, arg: Any, out: Queue[Any], plan: LoadPlan, result: LoadResult
) -> None:
    if kind == "stock":
        probe, view, (loc, meal) = arg
        if probe == "probe" and view == "catalog":
            cur = await conn.execute(LEVEL_SQL, {"l": loc, "m": meal})
        elif probe != "probe" and plan.mix == "sales":
            cur = await conn.execute(SALE_SQL, {"l": loc, "m": meal})
        else:
            cur = await conn.execute(STOCK_SQL, {"d": random.randint(1, 5), "l": loc, "m": meal})
        row = await cur.fetchone()
        committed = time.monotonic()
        result.stock_done += 1
        if probe == "probe" and row is not None:
            lsn = await (await conn.execute(LSN_SQL)).fetchone()
            on_hand, reserved = int(row[0]), int(row[1])
            if view == "inventory":
                out.put(("probe", ("stock", "inventory", loc, meal, on_hand, committed, lsn[0] if lsn else "")))
            else:
                level = stock_level(on_hand - reserved)
                code = LEVEL_CODES[level] if level is not None else 0
                at = lsn[0] if lsn else ""
                out.put(("probe", ("stock", "catalog", meal, loc, code, committed, at, str(row[2]))))
    elif kind == "toggle":
        await conn.execute(TOGGLE_SQL, [arg])
        result.toggles_done += 1
    else:
        meal, name, seq = arg
        await conn.execute(RENAME_SQL, [name, meal])
        committed = time.monotonic()
        lsn = await (await conn.execute(LSN_SQL)).fetchone()
        result.renames_done += 1
        out.put(("probe", ("rename", "catalog", meal, "", seq, committed, lsn[0] if lsn else "")))
