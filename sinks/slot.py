"""The capture slot as a sink worker observes it: its ``confirmed_flush_lsn`` (sinks/watermark.py says why every
commit up to it is in the topics).

The slot is observed up to every chase interval, on a connection of its own in autocommit, one round trip each; a
pooled connection (REPEATABLE READ) took four: the checkout's check, BEGIN, the SELECT, COMMIT.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

SLOT_CONNECT_TIMEOUT_S = 2


class SlotObserver:
    def __init__(self, pool: ConnectionPool, slot: str) -> None:
        self.pool, self.slot = pool, slot  # the pool names the master (its conninfo); its connections are not used
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def confirmed_flush(self) -> int | None:
        """The slot's confirmed_flush_lsn as a 64-bit integer; None when the slot is missing or has none."""
        row = self._confirmed_flush()
        return None if row is None or row[0] is None else int(row[0])

    def _confirmed_flush(self) -> tuple[Any, ...] | None:
        if self._conn is None or self._conn.closed:
            conninfo = self.pool.conninfo  # the master the pool reads, as the pool was given it
            self._conn = psycopg.connect(
                conninfo() if callable(conninfo) else conninfo,
                autocommit=True,
                connect_timeout=SLOT_CONNECT_TIMEOUT_S,
            )
        try:
            return self._conn.execute(
                "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint FROM pg_replication_slots WHERE slot_name = %s",
                [self.slot],
            ).fetchone()
        except psycopg.Error:
            # A master restart or a failover: a new connection next time (the error is logged by the caller).
            self._conn.close()
            self._conn = None
            raise
