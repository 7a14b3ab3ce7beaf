"""Debezium change events as the sinks see them (JSON converter, schemas disabled)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import Message

from sinks.errors import PoisonEventError


@dataclass(frozen=True)
class ChangeEvent:
    topic: str
    partition: int
    offset: int
    table: str  # "schema.table"
    key: dict[str, Any]
    op: str  # c, u, d, r (snapshot read), t (truncate) or "tombstone"
    lsn: int | None  # WAL position of the change; None for tombstones
    txid: int | None = None  # the (32-bit) id of the transaction that made the change; None for tombstones
    committed_ms: int | None = None  # when the change's transaction committed (source.ts_ms); None for tombstones
    produced_ms: int | None = None  # the record's Kafka timestamp: when the capture produced it
    before: dict[str, Any] | None = None  # the old row: updates and deletes of a table with REPLICA IDENTITY FULL
    after: dict[str, Any] | None = None  # the new row: creates, updates and snapshot reads

    @property
    def coordinates(self) -> str:
        return coordinates(self.topic, self.partition, self.offset)


def table_of_topic(topic: str) -> str:
    """'farmacy.inventory.stock' -> 'inventory.stock'."""
    parts = topic.split(".")
    if len(parts) < 3:
        raise PoisonEventError(f"topic {topic!r} is not <prefix>.<schema>.<table>")
    return ".".join(parts[-2:])


def parse(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, produced_ms: int | None = None
) -> ChangeEvent:
    """Parses one Kafka record; raises PoisonEventError when it is not a Debezium change event."""
    try:
        key_doc = orjson.loads(key) if key else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonEventError(f"key is not JSON: {exc}") from exc
    if not isinstance(key_doc, dict) or not key_doc:
        raise PoisonEventError("event has no primary-key object as its key")
    table = table_of_topic(topic)
    if value is None:
        return ChangeEvent(topic, partition, offset, table, key_doc, "tombstone", None)
    try:
        doc = orjson.loads(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonEventError(f"value is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or "op" not in doc or not isinstance(doc.get("source"), dict):
        raise PoisonEventError("value is not a Debezium envelope (op, source)")
    source: dict[str, Any] = doc["source"]
    lsn = source.get("lsn")
    if lsn is not None and not isinstance(lsn, int):
        raise PoisonEventError(f"source.lsn is not an integer: {lsn!r}")
    txid = source.get("txId")
    committed = source.get("ts_ms")
    before, after = doc.get("before"), doc.get("after")
    return ChangeEvent(
        topic,
        partition,
        offset,
        table,
        key_doc,
        str(doc["op"]),
        lsn,
        txid if isinstance(txid, int) else None,
        committed if isinstance(committed, int) else None,
        produced_ms,
        before if isinstance(before, dict) else None,
        after if isinstance(after, dict) else None,
    )


def coordinates(topic: str, partition: int, offset: int) -> str:
    """Where a record is, as logs and dead letters name it: 'topic[partition]@offset'."""
    return f"{topic}[{partition}]@{offset}"


def dict_headers(msg: Message) -> dict[str, str]:
    """A record's headers as text."""
    pairs: list[tuple[str, bytes | None]] = list(msg.headers() or [])  # type: ignore[arg-type]
    return {k: (v or b"").decode(errors="replace") for k, v in pairs}
