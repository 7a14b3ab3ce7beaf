"""A live load for tests that change the stack while it serves: paced stock changes straight into the master (the
statement of benchmarks.sync_load), paced catalog searches, and consistency-token reads of a probe meal whose level
at one location flips, each checked against what its write made it (a 200 showing another level is a stale read).

Counts only; the test asserts on them. Threads pace themselves (stop.wait between steps), so the load runs at the
asked rates when the machine keeps up and reports what it did when it does not.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg

from benchmarks.sync_load import LEVEL_SQL, STOCK_SQL
from farmacy import consistency
from farmacy.settings import Settings
from farmacy.vocabulary import stock_level
from stack.api_clients import query_client

WORDS = ["salmon", "bowl", "lentil", "curry", "green", "chicken", "vegan", "rice", "soup", "wrap", "tofu", "poke"]


@dataclass
class LoadCounts:
    stock_changes: int = 0
    write_errors: list[str] = field(default_factory=list)
    searches: int = 0
    failed_searches: list[str] = field(default_factory=list)
    token_reads: Counter[str] = field(default_factory=Counter)  # fresh / unavailable (503) / stale / failed
    stale: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        s = max(self.seconds, 1e-9)
        return (
            f"{self.stock_changes} stock changes ({self.stock_changes / s:.0f}/s), {self.searches} searches "
            f"({self.searches / s:.0f}/s, {len(self.failed_searches)} failed), token reads {dict(self.token_reads)} "
            f"in {self.seconds:.0f}s"
        )


class LiveLoad:
    """``with LiveLoad(...) as load:`` runs the load until the block ends; ``load.counts`` then says what happened.

    ``rows``: (location_id, meal_id) stock rows for the plain changes; ``probe``: the (location_id, meal_id) row
    whose level flips for the token reads (an active meal at an online location no one else touches)."""

    def __init__(
        self,
        settings: Settings,
        rows: list[tuple[str, str]],
        probe: tuple[str, str],
        changes_per_s: float = 100,
        searches_per_s: float = 20,
        writers: int = 2,
    ) -> None:
        self.settings, self.rows, self.probe = settings, rows, probe
        self.changes_per_s, self.searches_per_s, self.writers = changes_per_s, searches_per_s, writers
        self.counts = LoadCounts()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guarded, args=(self._write, i)) for i in range(writers)]
        self.threads += [threading.Thread(target=self._guarded, args=(self._search, 0))]
        self.threads += [threading.Thread(target=self._guarded, args=(self._read_tokens, 0))]
        self.lock = threading.Lock()
        self.started = 0.0
        self.phase = "start"  # the test names what it is doing; each stale read records it

    def _guarded(self, work: Any, n: int) -> None:
        try:
            work(n)
        except BaseException as exc:  # the test must not pass "under load" without the load
            self.errors.append(exc)

    def _paced(self, per_s: float) -> Any:
        """Yields the step numbers at ``per_s`` a second until stopped (late steps run at once)."""
        step, start = 0, time.monotonic()
        while not self.stop.is_set():
            yield step
            step += 1
            delay = start + step / per_s - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)

    def _write(self, n: int) -> None:
        rng = random.Random(n)
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn:
            for _ in self._paced(self.changes_per_s / self.writers):
                loc, meal = rng.choice(self.rows)
                try:
                    conn.execute(STOCK_SQL, {"l": loc, "m": meal, "d": rng.randint(1, 5)}).fetchall()
                    with self.lock:
                        self.counts.stock_changes += 1
                except psycopg.Error as exc:
                    self.counts.write_errors.append(str(exc)[:200])

    def _search(self, _n: int) -> None:
        rng = random.Random(7)
        with query_client(self.settings) as query:
            for _ in self._paced(self.searches_per_s):
                params: dict[str, str | int] = {"q": rng.choice(WORDS), "size": 10}
                try:
                    r = query.get("/catalog/meals", params=params)
                    ok = r.status_code == 200
                    detail = f"{r.status_code} {r.text[:200]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, repr(exc)
                self.counts.searches += 1
                if not ok:
                    self.counts.failed_searches.append(detail)

    def _read_tokens(self, _n: int) -> None:
        loc, meal = self.probe
        with psycopg.connect(self.settings.pg_dsn, autocommit=True) as conn, query_client(self.settings) as query:
            for _ in self._paced(4):
                row = conn.execute(LEVEL_SQL, {"l": loc, "m": meal}).fetchone()
                assert row is not None, "the probe row exists"
                on_hand, reserved, lsn = int(row[0]), int(row[1]), str(row[2])
                expected = stock_level(on_hand - reserved)
                try:
                    r = query.get(f"/catalog/meals/{meal}", headers={consistency.HEADER: lsn})
                except httpx.HTTPError as exc:
                    self.counts.token_reads["failed"] += 1
                    self.counts.stale.append(f"{lsn}: {exc!r}")
                    continue
                if r.status_code == 503:
                    self.counts.token_reads["unavailable"] += 1
                    continue
                if r.status_code != 200:
                    self.counts.token_reads["failed"] += 1
                    self.counts.stale.append(f"{lsn}: {r.status_code} {r.text[:200]}")
                    continue
                shown = {a["location_id"]: a["level"] for a in r.json()["availability"]}
                if shown.get(loc) == expected:
                    self.counts.token_reads["fresh"] += 1
                else:
                    self.counts.token_reads["stale"] += 1
                    self.counts.stale.append(f"{lsn} ({self.phase}): expected {expected}, shown {shown.get(loc)}")

    def fresh_reads(self) -> int:
        return self.counts.token_reads["fresh"]

    def __enter__(self) -> LiveLoad:
        self.started = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)
        self.counts.seconds = time.monotonic() - self.started
        if self.errors:
            raise AssertionError(f"the load failed, so the test ran without it: {self.errors[0]!r}") from self.errors[0]
