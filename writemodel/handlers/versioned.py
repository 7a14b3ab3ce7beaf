"""Optimistic concurrency for updates: change a row only at the version the client read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import DictRow

from farmacy.errors import NotFound, VersionMismatch


async def load_for_update(
    conn: AsyncConnection[DictRow],
    table: str,
    row_id: UUID,
    expected_version: int | None,
    what: str,
    customer_id: UUID | None = None,
) -> dict[str, Any]:
    """Locks the row and checks its version; NotFound / VersionMismatch otherwise.

    With ``customer_id`` (a customer acting), a row of another customer is NotFound, checked before the
    version, so nothing about it (not even its existence or version) reaches that customer.
    """
    schema, name = table.split(".")
    cur = await conn.execute(
        sql.SQL("SELECT * FROM {}.{} WHERE id = %s FOR UPDATE").format(sql.Identifier(schema), sql.Identifier(name)),
        [row_id],
    )
    row = await cur.fetchone()
    if row is None or (customer_id is not None and row["customer_id"] != customer_id):
        raise NotFound(f"{what} {row_id} does not exist")
    if expected_version is not None and row["version"] != expected_version:
        raise VersionMismatch(
            f"{what} is at version {row['version']}, the request was based on version {expected_version}",
            field="If-Match",
            rule="must match the current version (ETag)",
            extra={"current_version": row["version"]},
        )
    return dict(row)


async def update_row(
    conn: AsyncConnection[DictRow], table: str, row_id: UUID, changes: dict[str, Any], returning: str
) -> dict[str, Any]:
    """Applies ``changes`` to a row locked by load_for_update and bumps its version."""
    schema, name = table.split(".")
    assignments = [sql.SQL("{} = %s").format(sql.Identifier(col)) for col in changes]
    query = sql.SQL("UPDATE {}.{} SET {}, version = version + 1, updated_at = now() WHERE id = %s RETURNING {}").format(
        sql.Identifier(schema),
        sql.Identifier(name),
        sql.SQL(", ").join(assignments),
        sql.SQL(returning),
    )
    cur = await conn.execute(query, [*changes.values(), row_id])
    row = await cur.fetchone()
    assert row is not None
    return dict(row)
