"""What every PostgreSQL repository shares: the connection type, lock clauses, one-row statements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from writemodel.repositories import Lock

Conn = AsyncConnection[DictRow]
Params = Sequence[Any] | Mapping[str, Any]

LOCK_CLAUSE: dict[Lock, LiteralString] = {Lock.NONE: "", Lock.SHARE: " FOR SHARE", Lock.UPDATE: " FOR UPDATE"}


async def fetch_one(conn: Conn, query: LiteralString, params: Params) -> DictRow | None:
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def fetch_later(conn: Conn, query: LiteralString, params: Params) -> Callable[[], Awaitable[DictRow | None]]:
    """Sends the statement now; the returned function reads its row. In pipeline mode, statements sent one after the
    other and read afterwards share one round trip."""
    cur = await conn.execute(query, params)
    return cur.fetchone


async def fetch_row(conn: Conn, query: LiteralString, params: Params) -> DictRow:
    """For statements that always return a row (INSERT/UPDATE ... RETURNING of a locked or new row)."""
    row = await fetch_one(conn, query, params)
    assert row is not None, "statement returned no row"
    return row
