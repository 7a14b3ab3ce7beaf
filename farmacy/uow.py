"""Unit of work of the command side: one PostgreSQL transaction per command, and its WAL position."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

T = TypeVar("T")

# Serialization failures and deadlocks are retried whole; the transaction had no effect.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
MAX_ATTEMPTS = 5


class UnitOfWork:
    """``async with uow.transaction() as conn`` runs the block in one transaction.

    After a successful commit, ``commit_lsn`` holds the WAL insert position just past the commit: the
    consistency token a client may present to the query side to read its own write.
    """

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[DictRow]]) -> None:
        self.pool = pool
        self.commit_lsn: str | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[DictRow]]:
        async with self.pool.connection() as conn:
            async with conn.transaction():
                yield conn
            cur = await conn.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")
            row = await cur.fetchone()
            self.commit_lsn = str(row["lsn"]) if row else None


async def with_retries(attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs a whole transactional attempt again on serialization failure or deadlock."""
    for n in range(1, MAX_ATTEMPTS + 1):
        try:
            return await attempt()
        except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
            if n == MAX_ATTEMPTS:
                raise
            await asyncio.sleep(0.01 * 2**n)
    raise AssertionError("unreachable")


def make_pool(dsn: str, min_size: int = 2, max_size: int = 20) -> AsyncConnectionPool[AsyncConnection[DictRow]]:
    return AsyncConnectionPool(
        dsn, min_size=min_size, max_size=max_size, open=False,
        kwargs={"row_factory": dict_row, "autocommit": True},
        check=AsyncConnectionPool.check_connection, name="command",
    )
