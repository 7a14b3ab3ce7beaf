"""Unit of work of the command side: one transaction per command, the repositories bound to it, and the
consistency token of its commit. ``UnitOfWork`` is the port handlers use; ``PostgresUnitOfWork`` the
adapter the command API runs on (a fake one drives the unit tests)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, cast

import orjson
from psycopg import AsyncConnection, AsyncCursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_delay, wait_fixed

from farmacy import consistency
from writemodel.adapters import postgres as pg
from writemodel.repositories import Customers, Locations, Meals, Orders, Plans, StockLevels, Subscriptions

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


@dataclass(frozen=True)
class IdempotencyClaim:
    """An ``Idempotency-Key`` a command claims inside its own transaction."""

    principal: str
    key: str
    method: str
    path: str
    request_hash: str


class IdempotentReplay(Exception):
    """The key was claimed by an identical request that committed meanwhile: answer with its response."""

    def __init__(self, claim: IdempotencyClaim) -> None:
        super().__init__(claim.key)
        self.claim = claim


class UnitOfWork(ABC):
    """``async with uow:`` runs the block in one transaction: it commits when the block ends normally and
    rolls back when it raises. The repositories are usable inside the block only. After a commit,
    ``commit_lsn`` holds the consistency token a client presents to the query side to read its own write."""

    meals: Meals
    locations: Locations
    stock: StockLevels
    customers: Customers
    orders: Orders
    plans: Plans
    subscriptions: Subscriptions
    commit_lsn: str | None = None

    @abstractmethod
    async def __aenter__(self) -> Self: ...

    @abstractmethod
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @abstractmethod
    async def record_response(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        """Stores the response of a committed, idempotent command for replays of its key (if it has one)."""


class PostgresUnitOfWork(UnitOfWork):
    """One PostgreSQL transaction per command.

    With an idempotency claim, the transaction first inserts the key: a concurrent request with the same
    key waits on that row and then finds it taken, so the command takes effect once. With ``hold_commit`` (the
    command API), the handler's block ends with the transaction still open, and ``record_response`` stores the
    response in it and commits: a key is never committed without its response. After the commit,
    ``commit_lsn`` holds the WAL insert position just past it.
    """

    def __init__(
        self, pool: Pool, claim: IdempotencyClaim | None = None, hold_commit: bool = False, key_ttl_s: int = 86_400
    ) -> None:
        self.pool = pool
        self.claim = claim
        self.hold_commit = hold_commit
        self.key_ttl_s = key_ttl_s
        self.commit_lsn = None
        self._block: AbstractAsyncContextManager[None] | None = None
        self._held: AbstractAsyncContextManager[None] | None = None
        self._conn: AsyncConnection[DictRow] | None = None
        self._pending_claim: AsyncCursor[DictRow] | None = None

    async def __aenter__(self) -> Self:
        self._block = self._transaction()
        await self._block.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._block is not None, "__aexit__ without __aenter__"
        block, self._block = self._block, None
        if exc is None and self.hold_commit:
            self._held = block  # record_response commits it
            return
        await block.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """The command's transaction in pipeline mode: a statement whose result nobody reads yet (BEGIN, an upsert
        before its update, the stored response, COMMIT, the token) goes out with the next one that is read, so the
        command waits for the master once per result it needs, not once per statement. BEGIN and COMMIT are sent
        as statements (psycopg's transaction block would add a sync round trip on each side)."""
        async with self.pool.connection() as conn:
            self._conn = conn
            try:
                async with conn.pipeline():
                    await conn.execute("BEGIN")
                    repo_conn: AsyncConnection[DictRow] = conn
                    if self.claim is not None:
                        # The claim's result is read just before the first result the command reads (or before
                        # COMMIT): the claim goes out with the command's first reads, one round trip less.
                        self._pending_claim = await self._send_claim(conn, self.claim)
                        repo_conn = cast(AsyncConnection[DictRow], _ClaimFirst(conn, self))
                    self.meals = pg.PgMeals(repo_conn)
                    self.locations = pg.PgLocations(repo_conn)
                    self.stock = pg.PgStockLevels(repo_conn)
                    self.customers = pg.PgCustomers(repo_conn)
                    self.orders = pg.PgOrders(repo_conn)
                    self.plans = pg.PgPlans(repo_conn)
                    self.subscriptions = pg.PgSubscriptions(repo_conn)
                    try:
                        yield
                    except IdempotentReplay:
                        raise
                    except Exception:
                        # A failure before the command read anything: a replay of a taken key still answers
                        # as one.
                        await self._check_claim_quietly()
                        raise
                    await self.check_claim()
                    await conn.execute("COMMIT")
                    # The token: the WAL insert position just past the commit. The stored response keeps an empty
                    # one; a replay answers with the position at its own time, which is past this commit too.
                    # Writing this token into the stored response would take a second transaction and a second
                    # WAL flush per command.
                    token = await conn.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")
                # Leaving the pipeline sent everything and read every result: the token's is on its cursor.
                row = await token.fetchone()
            except BaseException:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    # Best effort: a connection the master dropped cannot roll back, and the pool discards it anyway.
                    with contextlib.suppress(Exception):
                        await conn.execute("ROLLBACK")
                raise
            self.commit_lsn = str(row["lsn"]) if row else None

    async def check_claim(self) -> None:
        """Raises IdempotentReplay if the key was taken (reads the claim's result once)."""
        pending, self._pending_claim = self._pending_claim, None
        if pending is not None and await pending.fetchone() is None:
            assert self.claim is not None
            raise IdempotentReplay(self.claim)

    async def _check_claim_quietly(self) -> None:
        if self._pending_claim is None:
            return
        try:
            await self.check_claim()
        except IdempotentReplay:
            raise
        except Exception:  # the claim itself failed: the command's own error is the answer
            return

    async def _send_claim(self, conn: AsyncConnection[DictRow], claim: IdempotencyClaim) -> AsyncCursor[DictRow]:
        # A key older than its time to live is free again: its row is taken over.
        return await conn.execute(
            """INSERT INTO platform.idempotency_keys (principal, key, method, path, request_hash, status_code, response)
               VALUES (%s, %s, %s, %s, %s, 0, 'null')
               ON CONFLICT (principal, key) DO UPDATE
                 SET method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
                     status_code = 0, response = 'null', headers = '{}', created_at = now()
                 WHERE idempotency_keys.created_at < now() - make_interval(secs => %s)
               RETURNING 1""",
            [claim.principal, claim.key, claim.method, claim.path, claim.request_hash, self.key_ttl_s],
        )

    async def record_response(self, status_code: int, body: Any, headers: dict[str, str]) -> None:
        if self._held is None:  # committed already (not holding): store it on its own
            if self.claim is not None:
                async with self.pool.connection() as conn:
                    await self._store(conn, status_code, body, headers)
            return
        held, self._held = self._held, None
        try:
            if self.claim is not None:
                assert self._conn is not None
                await self._store(self._conn, status_code, body, headers)
        except BaseException as exc:
            await held.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        await held.__aexit__(None, None, None)

    async def _store(
        self, conn: AsyncConnection[DictRow], status_code: int, body: Any, headers: dict[str, str]
    ) -> None:
        assert self.claim is not None
        await conn.execute(
            """UPDATE platform.idempotency_keys SET status_code = %s, response = %s, headers = %s
               WHERE principal = %s AND key = %s""",
            [status_code, Jsonb(body, _dumps), Jsonb(headers, _dumps), self.claim.principal, self.claim.key],
        )

    async def close(self) -> None:
        """Rolls back a transaction still held open (the request failed before its response was recorded)."""
        if self._held is not None:
            held, self._held = self._held, None
            error = RuntimeError("the command's response was never recorded")
            # Best effort: a connection the master dropped cannot roll back, and the pool discards it anyway.
            with contextlib.suppress(Exception):
                await held.__aexit__(RuntimeError, error, None)


class _ClaimFirst:
    """The command's connection as its repositories see it: before the first result of the command is read, the
    idempotency claim's result is (a taken key raises IdempotentReplay before the command decides anything)."""

    __slots__ = ("_conn", "_uow")

    def __init__(self, conn: AsyncConnection[DictRow], uow: PostgresUnitOfWork) -> None:
        self._conn = conn
        self._uow = uow

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        cur = await self._conn.execute(query, params, **kwargs)
        return cur if self._uow._pending_claim is None else _ClaimFirstCursor(cur, self._uow)


class _ClaimFirstCursor:
    __slots__ = ("_cur", "_uow")

    def __init__(self, cur: AsyncCursor[DictRow], uow: PostgresUnitOfWork) -> None:
        self._cur = cur
        self._uow = uow

    async def fetchone(self) -> DictRow | None:
        await self._uow.check_claim()
        return await self._cur.fetchone()

    async def fetchall(self) -> list[DictRow]:
        await self._uow.check_claim()
        return await self._cur.fetchall()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


async def stored_response(
    pool: Pool, principal: str, key: str, ttl_s: int, wait_s: float = 0.5
) -> dict[str, Any] | None:
    """The stored record of a live key, its consistency token set to the WAL position now: past the first request's
    commit, so a read with it sees that request's effect (the first response's own token is not stored: see
    ``PostgresUnitOfWork._transaction``). A record still being written (``status_code`` 0) is waited for briefly."""

    async def read() -> dict[str, Any] | None:
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT request_hash, status_code, response, headers, pg_current_wal_insert_lsn()::text AS now_lsn "
                "FROM platform.idempotency_keys "
                "WHERE principal = %s AND key = %s AND created_at >= now() - make_interval(secs => %s)",
                [principal, key, ttl_s],
            )
            row = await cur.fetchone()
        return dict(row) if row else None

    def unfinished(row: dict[str, Any] | None) -> bool:
        return row is not None and row["status_code"] == 0

    retrying = AsyncRetrying(
        retry=retry_if_result(unfinished),
        stop=stop_after_delay(wait_s),
        wait=wait_fixed(0.02),
        retry_error_callback=_last_result,
    )
    result: dict[str, Any] | None = await retrying(read)
    if result is not None and result["status_code"] != 0:
        if isinstance(result["response"], dict) and "consistency_token" in result["response"]:
            result["response"]["consistency_token"] = result["now_lsn"]
        result["headers"] = {**result["headers"], consistency.HEADER: result["now_lsn"]}
    return result


async def purge_expired_keys(pool: Pool, ttl_s: int) -> int:
    """Deletes idempotency keys past their time to live; returns how many."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM platform.idempotency_keys WHERE created_at < now() - make_interval(secs => %s)", [ttl_s]
        )
        return cur.rowcount


def _last_result(state: RetryCallState) -> Any:
    """When the wait is over, answer with what was read last (the caller reports the key as in doubt)."""
    return state.outcome.result() if state.outcome else None


def _dumps(value: Any) -> bytes:
    """The stored response's JSON (orjson: several times faster than the json module psycopg uses by default)."""
    return orjson.dumps(value)


def canonical_json(body: bytes) -> bytes:
    """Request bodies that differ only in key order or spacing hash the same."""
    try:
        return json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        return body


def make_pool(dsn: str, min_size: int = 4, max_size: int = 20, timeout_s: float = 3.0) -> Pool:
    """The command side's pool. Waiting for a connection is bounded (``timeout_s``): with the master away, a command
    answers 503 with Retry-After quickly instead of holding the client until it gives up."""
    pool: Pool
    checking: set[bool] = set()  # non-empty while a whole-pool check runs (one at a time)
    returned: weakref.WeakKeyDictionary[AsyncConnection[DictRow], float] = weakref.WeakKeyDictionary()

    async def note_return(conn: AsyncConnection[DictRow]) -> None:
        returned[conn] = time.monotonic()

    async def check_all() -> None:
        try:
            await pool.check()
        finally:
            checking.clear()

    async def check(conn: AsyncConnection[DictRow]) -> None:
        """Checked at checkout (an empty query): without it, after a restart of the master every pooled connection
        would fail one command with 503 before the pool replaced it. One idle connection found broken means the
        others most likely are too: the whole pool is checked at once, in the background. Checked one by one,
        the pool waits a doubling delay between them, and a process whose idle connections all predate the restart
        answered its first command after it 503 (4 connections: 0 + 1 + 2 s > the 3 s bound). A connection back in
        the pool for less than RECENTLY_USED_S is not checked: it answered a moment ago, and under load the check was
        one round trip in every command's eleven."""
        if time.monotonic() - returned.get(conn, -RECENTLY_USED_S) < RECENTLY_USED_S:
            return
        try:
            await AsyncConnectionPool.check_connection(conn)
        except Exception:
            if not checking:
                checking.add(True)
                _background(check_all())
            raise

    pool = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        open=False,
        kwargs={"row_factory": dict_row, "autocommit": True},
        check=check,
        reset=note_return,
        # A failed connection attempt is retried with a doubling delay for this long, then given up so that the next
        # command starts a fresh one. The default (5 minutes) let the delay grow past 16 s during a restart of the
        # master, and the pool answered 503 for that long after the master was back.
        reconnect_timeout=timeout_s,
        name="command",
    )
    return pool


RECENTLY_USED_S = 1.0
_BACKGROUND: set[asyncio.Task[None]] = set()


def _background(coro: Coroutine[Any, Any, None]) -> None:
    """Runs a coroutine without awaiting it, keeping a reference until it is done (the loop holds tasks weakly)."""
    task = asyncio.get_running_loop().create_task(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
