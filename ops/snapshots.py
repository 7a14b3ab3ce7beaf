"""Incremental snapshots through Debezium's signaling table: re-emit every row of some tables as read
events ('r'), while streaming goes on. Useful after restoring topics, or to backfill a view added later."""

from __future__ import annotations

import json
import uuid

import psycopg

from farmacy.connect import load_specs
from farmacy.settings import Settings


def captured_tables(settings: Settings) -> set[str]:
    return {t for spec in load_specs(settings) for t in spec.config["table.include.list"].split(",")}


def request_incremental_snapshot(settings: Settings, tables: list[str]) -> str:
    """Inserts an execute-snapshot signal; returns its id. Refuses tables the connector does not capture."""
    unknown = set(tables) - captured_tables(settings)
    if unknown:
        raise ValueError(f"not captured by the connector: {', '.join(sorted(unknown))}")
    signal_id = str(uuid.uuid4())
    data = json.dumps({"data-collections": tables, "type": "incremental"})
    with psycopg.connect(settings.pg_dsn) as conn:
        conn.execute(
            "INSERT INTO platform.debezium_signal (id, type, data) VALUES (%s, 'execute-snapshot', %s)",
            [signal_id, data],
        )
    return signal_id
