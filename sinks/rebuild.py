"""Rebuilds the touched roots from the master in one consistent, read-only snapshot."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from farmacy.lsn import lsn_text
from sinks.errors import DeployError, PoisonEventError, RetryableError
from sinks.pipeline import Rebuilt, RootRefs, lookup_sql, snapshot_version
from sinks.view import View

BUILD_CHUNK = 1000  # roots per build query

SNAPSHOT_SQL = """
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
       (SELECT count(*) FROM pg_snapshot_xip(pg_current_snapshot()))
"""


# Debezium reports 32-bit transaction ids; the snapshot speaks 64-bit ones (epoch << 32 | xid). Each id is placed in
# the epoch that puts it within 2^31 of the snapshot's xmax, as PostgreSQL itself relates 32-bit ids.
INVISIBLE_SQL = """
SELECT min(x) FROM (
    SELECT t.x, ((m.xmax >> 32) + CASE WHEN t.x - (m.xmax & 4294967295) > 2147483648 THEN -1
                                       WHEN t.x - (m.xmax & 4294967295) < -2147483648 THEN 1 ELSE 0 END) AS epoch
    FROM unnest(%s::bigint[]) AS t(x),
         (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax) AS m
) ids
WHERE epoch >= 0 AND NOT pg_visible_in_snapshot(((epoch << 32) | x)::text::xid8, pg_current_snapshot())
"""


class RawJson(Loader):
    """jsonb as the master sends it (JSON text), unparsed: a document only passes through to _bulk."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def rebuild(pool: ConnectionPool, view: View, refs: RootRefs, raw: bool = False) -> Rebuilt:
    """Resolves the roots of ``refs`` and builds their documents (``raw``: as JSON text, not parsed).

    The pool's connections are REPEATABLE READ and read-only, so every row comes from the snapshot taken by the
    first statement; that snapshot gives the documents' version (pipeline.snapshot_version), and the WAL position
    read with it says how far the view has applied.
    """
    try:
        with pool.connection() as conn, conn.transaction():
            # The first statement takes the transaction's snapshot; pg_current_snapshot() is that snapshot.
            row = conn.execute(SNAPSHOT_SQL).fetchone()
            assert row is not None
            lsn, version = int(row[0]), snapshot_version(int(row[1]), int(row[2]))
            if refs.txids:
                invisible = conn.execute(INVISIBLE_SQL, [sorted(refs.txids)]).fetchone()
                if invisible is not None and invisible[0] is not None:
                    # A commit is logged (and captured) a moment before it becomes visible to new snapshots; under
                    # synchronous replication, until a standby confirms it. Rebuilding now would miss it for good.
                    raise RetryableError(f"transaction {invisible[0]} of the batch is committed but not yet visible")
            if refs.max_lsn is not None and lsn < refs.max_lsn:
                # The snapshot is read on the primary, after the event was captured from its WAL: an event past
                # the WAL insert position claims a change the database never wrote. Waiting would wedge the view
                # forever (and again on every replay), so it is poison. A rebuild from a replica would first
                # have to wait, bounded, for the replica to replay that far.
                raise PoisonEventError(
                    f"event claims WAL position {lsn_text(refs.max_lsn)}, beyond the database's {lsn_text(lsn)}"
                )
            roots: set[str] = set()
            docs: dict[str, dict[str, Any] | bytes] = {}
            for kind, documents in enumerate(view.documents):
                wanted = set(refs.direct.get(kind, ()))
                for (k, table), keys in refs.lookups.items():
                    if k == kind:
                        for (root_id,) in conn.execute(lookup_sql(view, kind, table), [sorted(keys)]):
                            wanted.add(str(root_id))
                roots |= wanted
                ids = sorted(wanted)
                cur = conn.cursor()
                if raw:
                    cur.adapters.register_loader("jsonb", RawJson)
                for start in range(0, len(ids), BUILD_CHUNK):  # a fan-out to thousands of roots: chunked queries
                    for root_id, doc in cur.execute(documents.build_sql, {"ids": ids[start : start + BUILD_CHUNK]}):
                        docs[str(root_id)] = doc
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise RetryableError(f"master unavailable: {exc}") from exc
    except psycopg.ProgrammingError as exc:
        if exc.sqlstate and exc.sqlstate[:2] in ("42", "28"):
            # Missing table/column or privilege: a deploy or grant problem, not the event's fault. Retry.
            raise DeployError(f"master schema or privileges not as expected: {exc}") from exc
        raise PoisonEventError(f"rebuild query rejected the batch: {exc}") from exc
    except psycopg.DataError as exc:
        raise PoisonEventError(f"rebuild query rejected the batch: {exc}") from exc
    return Rebuilt(lsn=lsn, docs=docs, deleted=frozenset(roots - docs.keys()), version=version)
