"""The measuring side of benchmarks.sync_rate, through the stack's public surfaces only.

- Document visibility: each watched document (a location of the inventory view, a meal of the catalog view)
  that has changes waiting to be seen is read through the query API, the least recently read first, under one
  cap on reads per second for all of them; one read settles every waiting change of that document.
- Token: the view's applied position (`view.applied_lsn` of any response, what a read with a consistency
  token waits for) is polled per view; a change's token is satisfied at the first poll that shows a position
  at or past its commit's WAL position. A few changes per second also get a real read with
  `X-Consistency-Token`, retried on 503 until it answers 200.
- Consumer lag: per view, the sum over its consumer group's partitions of end offset minus committed offset
  (Kafka admin API), and the replication slot's confirmed position (PostgreSQL), every 0.5 s.
- CPU: seconds per supervised program (its process tree) from psutil.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # not re-exported

from benchmarks.sync_load import LEVEL_CODES
from farmacy.auth import Role
from farmacy.lsn import lsn_int, lsn_text
from farmacy.settings import Settings
from sinks.views import VIEWS
from stack.identity import Login, issue_token


@dataclass
class Probe:
    kind: str  # "stock" or "rename"
    view: str  # "inventory" or "catalog"
    doc: str  # location id (inventory) or meal id (catalog)
    key: str  # the stock line's meal id (inventory) or the availability entry's location id (catalog)
    expect: int  # on_hand (inventory), level code (catalog, sync_load.LEVEL_CODES), rename sequence number (rename)
    committed: float  # time.monotonic() when the commit returned
    lsn: int
    doc_lsn: int = 0  # catalog stock probes: the WAL insert position read inside the change's statement
    visible_at: float | None = None
    token_at: float | None = None
    token_read_at: float | None = None
    token_read: bool = False  # a real read with the token was made for this one

    def __lt__(self, other: Probe) -> bool:
        return self.lsn < other.lsn


def doc_path(view: str, doc: str) -> str:
    if view == "inventory":
        return f"/inventory/locations/{doc}"
    return f"/inventory/meals/{doc}/availability"  # the catalog view: a meal's name, levels, the doc's source_lsn


def observed(view: str, body: dict[str, Any]) -> tuple[dict[str, int], str, int]:
    """What a document shows: value per line (on_hand per meal, or the level's code per location), the meal name
    and the WAL position of the snapshot the document was built from (0 when not given)."""
    if view == "inventory":
        return {s["meal_id"]: int(s["on_hand"]) for s in body.get("stock", [])}, "", 0
    values = {a["location_id"]: LEVEL_CODES.get(a.get("level", ""), 0) for a in body.get("locations", [])}
    source = (body.get("freshness") or {}).get("source_lsn")
    return values, str(body.get("name", "")), lsn_int(source) if source else 0


def shows(p: Probe, values: dict[str, int], name: str, source_lsn: int) -> bool:
    """Whether a document showing ``values``, ``name`` and built at ``source_lsn`` shows the probe's change.
    on_hand and rename numbers only grow (>=); a level flips back and forth, so a catalog stock probe is seen in a
    document built after its change (source_lsn at or past the position read in its statement) with its level."""
    if p.kind == "rename":
        return rename_seq(name) >= p.expect
    if p.doc_lsn:
        return source_lsn >= p.doc_lsn and values.get(p.key, 0) == p.expect
    return values.get(p.key, -1) >= p.expect


def rename_seq(name: str) -> int:
    _, sep, tail = name.rpartition(" ~")
    return int(tail) if sep and tail.isdigit() else -1


@dataclass
class WatchStats:
    doc_reads: int = 0
    doc_read_errors: int = 0
    watermark_reads: int = 0
    token_reads: int = 0
    token_503: int = 0
    poll_gaps_ms: list[float] = field(default_factory=list)  # time between two reads of one waiting document


class Watcher:
    """Tracks probes until they are visible (document) and satisfied (token)."""

    def __init__(
        self,
        settings: Settings,
        views: list[str],
        max_reads_per_s: float,
        min_poll_s: float,
        token_poll_s: float,
        token_reads_per_s: float,
        watermark_paths: dict[str, str],
    ) -> None:
        self.settings = settings
        self.views = views
        self.max_reads_per_s = max_reads_per_s
        self.min_poll_s = min_poll_s
        self.token_poll_s = token_poll_s
        self.token_reads_per_s = token_reads_per_s
        self.watermark_paths = watermark_paths
        self.probes: list[Probe] = []
        self.waiting: dict[tuple[str, str], list[Probe]] = {}
        self.last_read: dict[tuple[str, str], float] = {}
        self.tokens: dict[str, list[Probe]] = {v: [] for v in views}
        self.applied: dict[str, int] = {}
        self.last_token_read: dict[str, float] = {}
        self.stats = WatchStats()
        self._wake = asyncio.Event()
        self._stop = False
        self._tasks: list[asyncio.Task[None]] = []
        self._token_tasks: set[asyncio.Task[None]] = set()
        base = f"http://127.0.0.1:{settings.query_port}"
        # Stock details are for admins and operators (api/query/routers/inventory.py).
        operator = {"Authorization": f"Bearer {issue_token(settings, Login(Role.OPERATOR, 'bench'))}"}
        self.http = httpx.AsyncClient(
            base_url=base, timeout=15, limits=httpx.Limits(max_connections=8), headers=operator
        )
        # Reads with a token wait in the query API (up to its bound): their own few connections, so they
        # never hold up the document reads.
        self.token_http = httpx.AsyncClient(
            base_url=base, timeout=15, limits=httpx.Limits(max_connections=4), headers=operator
        )
        self.token_inflight: dict[str, int] = {v: 0 for v in views}

    def add(self, probe: Probe) -> None:
        if probe.view not in self.views:
            return
        self.probes.append(probe)
        self.waiting.setdefault((probe.view, probe.doc), []).append(probe)
        heapq.heappush(self.tokens[probe.view], probe)
        self._wake.set()
        now = time.monotonic()
        if (
            self.token_reads_per_s > 0
            and now - self.last_token_read.get(probe.view, 0) >= 1 / self.token_reads_per_s
            and self.token_inflight[probe.view] < 2
        ):
            self.last_token_read[probe.view] = now
            probe.token_read = True
            task = asyncio.create_task(self._token_read(probe))
            self._token_tasks.add(task)
            task.add_done_callback(self._token_tasks.discard)

    def pending(self) -> int:
        return sum(len(v) for v in self.waiting.values()) + sum(len(v) for v in self.tokens.values())

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._doc_loop()))
        for view in self.views:
            self._tasks.append(asyncio.create_task(self._watermark_loop(view)))

    async def close(self) -> None:
        self._stop = True
        self._wake.set()
        for task in [*self._tasks, *self._token_tasks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._token_tasks, return_exceptions=True)
        await self.http.aclose()
        await self.token_http.aclose()

    async def _doc_loop(self) -> None:
        inflight: set[tuple[str, str]] = set()
        gap = 1 / self.max_reads_per_s
        sem = asyncio.Semaphore(4)
        while not self._stop:
            now = time.monotonic()
            ready = [
                k
                for k, ps in self.waiting.items()
                if ps and k not in inflight and now - self.last_read.get(k, 0) >= self.min_poll_s
            ]
            if not ready:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.min_poll_s / 2)
                continue
            key = min(ready, key=lambda k: self.last_read.get(k, 0))
            if key in self.last_read and self.waiting[key]:
                self.stats.poll_gaps_ms.append((now - self.last_read[key]) * 1000)
            self.last_read[key] = now
            inflight.add(key)
            await sem.acquire()

            async def read(k: tuple[str, str] = key) -> None:
                try:
                    await self._read_doc(*k)
                finally:
                    inflight.discard(k)
                    sem.release()

            task = asyncio.create_task(read())
            self._token_tasks.add(task)
            task.add_done_callback(self._token_tasks.discard)
            await asyncio.sleep(gap)

    async def _read_doc(self, view: str, doc: str) -> None:
        try:
            r = await self.http.get(doc_path(view, doc))
        except httpx.HTTPError:
            self.stats.doc_read_errors += 1
            return
        at = time.monotonic()
        self.stats.doc_reads += 1
        if r.status_code != 200:
            if r.status_code != 404:
                self.stats.doc_read_errors += 1
            return
        body = r.json()
        self._note_applied(view, body, at)
        values, name, source_lsn = observed(view, body)
        waiting = self.waiting.get((view, doc), [])
        # A later change of the same line seen means every earlier one is (a level may have flipped back since).
        newest: dict[tuple[str, str], int] = {}
        for p in waiting:
            if shows(p, values, name, source_lsn):
                newest[(p.kind, p.key)] = max(newest.get((p.kind, p.key), 0), p.lsn)
        still = []
        for p in waiting:
            if p.lsn <= newest.get((p.kind, p.key), -1):
                p.visible_at = at
            else:
                still.append(p)
        self.waiting[(view, doc)] = still

    def _note_applied(self, view: str, body: dict[str, Any], at: float) -> None:
        text = (body.get("view") or {}).get("applied_lsn")
        if not text:
            return
        applied = lsn_int(text)
        self.applied[view] = max(self.applied.get(view, 0), applied)
        heap = self.tokens[view]
        while heap and heap[0].lsn <= applied:
            heapq.heappop(heap).token_at = at

    async def _watermark_loop(self, view: str) -> None:
        path = self.watermark_paths[view]
        while not self._stop:
            began = time.monotonic()
            try:
                r = await self.http.get(path)
                self.stats.watermark_reads += 1
                if r.status_code == 200:
                    self._note_applied(view, r.json(), time.monotonic())
            except httpx.HTTPError:
                pass
            await asyncio.sleep(max(0.0, self.token_poll_s - (time.monotonic() - began)))

    async def _token_read(self, probe: Probe) -> None:
        """A real read with the change's consistency token, repeated on 503 until it answers 200."""
        path = self.watermark_paths[probe.view]
        headers = {"X-Consistency-Token": lsn_text(probe.lsn)}
        deadline = probe.committed + 120
        self.token_inflight[probe.view] += 1
        try:
            while time.monotonic() < deadline:
                try:
                    r = await self.token_http.get(path, headers=headers)
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
                    continue
                self.stats.token_reads += 1
                if r.status_code == 200:
                    probe.token_read_at = time.monotonic()
                    return
                if r.status_code == 503:
                    self.stats.token_503 += 1
                    continue
                await asyncio.sleep(0.1)
        finally:
            self.token_inflight[probe.view] -= 1


# -- consumer lag ---------------------------------------------------------------------------------------------


@dataclass
class LagSample:
    t: float
    lag: dict[str, int]  # view -> events not yet committed by its consumer group
    slot_behind_bytes: int  # current WAL position minus the slot's confirmed position
    slot_confirmed: int


class LagSampler:
    """Samples every view's consumer lag and the replication slot every `every_s` seconds, in a thread."""

    def __init__(self, settings: Settings, every_s: float = 0.5) -> None:
        self.settings = settings
        self.every_s = every_s
        self.samples: list[LagSample] = []
        self.admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
        self._readers: dict[str, Consumer] = {}
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._partitions_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def latest(self) -> LagSample | None:
        return self.samples[-1] if self.samples else None

    def _group_partitions(self, view: str) -> list[TopicPartition]:
        """Every partition of every (existing) topic the view reads."""
        topics = [self.settings.topic(*t.split(".")) for t in VIEWS[view].tables]
        metadata = self.admin.list_topics(timeout=10).topics
        return [TopicPartition(t, p) for t in topics if t in metadata for p in sorted(metadata[t].partitions)]

    def _committed(self, view: str, tps: list[TopicPartition]) -> list[TopicPartition]:
        """The view's group's committed offsets, read through a consumer of the group that never joins it (the admin
        client's ListConsumerGroupOffsets crashes in librdkafka when the group's coordinator moves)."""
        group = self.settings.sink_group_id(view)
        if group not in self._readers:
            self._readers[group] = Consumer(
                {"bootstrap.servers": self.settings.kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
            )
        return list(self._readers[group].committed(tps, timeout=10))

    def sample_once(self) -> LagSample:
        now = time.monotonic()
        if now - self._partitions_at > 10:
            self._partitions = {v: self._group_partitions(v) for v in self.settings.views}
            self._partitions_at = now
        lag: dict[str, int] = {}
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # OffsetSpec has no annotations
        every = {(tp.topic, tp.partition) for tps in self._partitions.values() for tp in tps}
        ends = {
            (tp.topic, tp.partition): f.result(timeout=10).offset
            for tp, f in self.admin.list_offsets({TopicPartition(t, p): latest for t, p in every}).items()
        }
        for view, tps in self._partitions.items():
            committed = self._committed(view, tps)
            lag[view] = sum(
                max(0, ends.get((tp.topic, tp.partition), 0) - max(tp.offset, 0)) for tp in committed if tp.offset >= 0
            )
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,"
                " pg_wal_lsn_diff(confirmed_flush_lsn, '0/0')::bigint"
                " FROM pg_replication_slots WHERE slot_name = %s",
                [self.settings.slot_name],
            ).fetchone()
        return LagSample(time.monotonic(), lag, int(row[0]) if row else -1, int(row[1]) if row else -1)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            with contextlib.suppress(KafkaException, psycopg.Error, KeyError, StopIteration):
                self.samples.append(self.sample_once())
            self._stop.wait(max(0.0, self.every_s - (time.monotonic() - began)))


# -- where a change's time goes (the sinks' own histograms) -----------------------------------------------------

STAGES = ("produced", "consumed", "applied")


def stage_buckets(settings: Settings, views: list[str]) -> dict[tuple[str, str], dict[float, float]]:
    """Cumulative bucket counts of ``farmacy_sink_event_age_seconds`` (commit -> stage) per (view, stage), summed over
    every worker of the view that answers on its metrics port (workers 0, 1, ... until one does not answer)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, str], dict[float, float]] = {}
    for view in views:
        for worker in range(64):
            try:
                text = httpx.get(f"http://127.0.0.1:{settings.sink_port(view, worker)}/metrics", timeout=5).text
            except httpx.HTTPError:
                break
            for family in text_string_to_metric_families(text):
                if family.name != "farmacy_sink_event_age_seconds":
                    continue
                for sample in family.samples:
                    if sample.name.endswith("_bucket"):
                        key = (view, sample.labels["stage"])
                        le = float(sample.labels["le"])
                        out.setdefault(key, {})[le] = out.get(key, {}).get(le, 0.0) + sample.value
    return out


def stage_summary(
    before: dict[tuple[str, str], dict[float, float]], after: dict[tuple[str, str], dict[float, float]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per view and stage: the changes counted between the two scrapes and the upper bounds (seconds) of the buckets
    that hold their median and 99th percentile."""
    result: dict[str, dict[str, dict[str, float]]] = {}
    for (view, stage), buckets in after.items():
        counts = sorted((le, n - before.get((view, stage), {}).get(le, 0.0)) for le, n in buckets.items())
        total = counts[-1][1] if counts else 0.0
        if total <= 0:
            continue

        def bound(q: float, counts: list[tuple[float, float]] = counts, total: float = total) -> float:
            return next(le for le, n in counts if n >= q * total)

        result.setdefault(view, {})[stage] = {"n": total, "p50_le_s": bound(0.5), "p99_le_s": bound(0.99)}
    return result


# -- CPU per process --------------------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants; children that already exited and were waited for count
    through the parent's children_* times (PostgreSQL's backends come and go)."""
    try:
        root = psutil.Process(pid)
        t = root.cpu_times()
        total = t.user + t.system + t.children_user + t.children_system
        for child in root.children(recursive=True):
            try:
                c = child.cpu_times()
                total += c.user + c.system
            except psutil.NoSuchProcess:
                pass
        return total
    except psutil.NoSuchProcess:
        return 0.0


def stack_processes(settings: Settings) -> dict[str, int]:
    """Supervised program -> pid, through supervisord's XML-RPC socket (the stack of FARMACY_STACK_DIR)."""
    from stack.lifecycle import layout_for  # the local stack's tooling: only this benchmark needs it
    from stack.supervisor import Supervisor

    sup = Supervisor(layout_for(settings))
    if not sup.running():
        raise SystemExit(f"stack {settings.stack_name} is not running (no supervisord under {settings.stack_dir})")
    return {str(i["name"]): int(i["pid"]) for i in sup.all_info() if i["pid"]}


MACHINE = "(machine busy)"  # the whole machine's busy CPU in a snapshot


def cpu_snapshot(procs: dict[str, int], extra: dict[str, Callable[[], float]] | None = None) -> dict[str, float]:
    snap = {name: tree_cpu(pid) for name, pid in procs.items()}
    for name, fn in (extra or {}).items():
        snap[name] = fn()
    t = psutil.cpu_times()
    snap[MACHINE] = t.user + t.nice + t.system + t.irq + t.softirq + t.steal
    return snap


def by_component(snap: dict[str, float]) -> dict[str, float]:
    """A snapshot's programs as components: every sink worker (``sink-<view>:sink-<view>-<i>``) counts as "sinks"."""
    grouped: dict[str, float] = defaultdict(float)
    for name, seconds in snap.items():
        program = name.split(":", 1)[0]
        grouped["sinks" if program.startswith("sink-") else program] += seconds
    return dict(grouped)


def json_safe(value: Any) -> Any:
    """``value`` with NaN as null and infinity as "inf" (an unresolved sample), so the result is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else "inf"
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value
