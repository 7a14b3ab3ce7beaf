"""Pure part of a sink: change events -> the roots they touch -> versioned bulk actions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from farmacy.lsn import lsn_text
from sinks.errors import PoisonEventError
from sinks.events import ChangeEvent
from sinks.view import Direct, Lookup, View


@dataclass
class RootRefs:
    """The roots a batch touches, per kind of document (View.documents, by position): some known directly, some to
    be found by lookup queries."""

    direct: dict[int, set[str]] = field(default_factory=dict)  # kind -> root ids
    lookups: dict[tuple[int, str], set[str]] = field(default_factory=dict)  # (kind, table) -> changed keys
    max_lsn: int | None = None
    txids: set[int] = field(default_factory=set)  # transactions whose changes the rebuild must see

    @classmethod
    def of(cls, ids: set[str] | list[str], kind: int = 0) -> RootRefs:
        """Roots of one kind known by id (reconciliation, blue/green fills)."""
        return cls(direct={kind: set(ids)})

    def add(self, view: View, event: ChangeEvent, replaying: bool = False) -> None:
        """Adds the roots ``event`` touches. An update that leaves what a kind of document reads of the row as it
        was touches none of that kind (``Direct.reads``), unless ``replaying``: a replay re-derives the roots of
        every change it reads, since the view it repairs may lack what the change's predecessors did."""
        touched = False
        for kind, documents in enumerate(view.documents):
            source = documents.sources.get(event.table)
            if source is None:
                continue
            if not replaying and _reads_the_same(source, event):
                continue
            touched = True
            if isinstance(source, Direct):
                root = "/".join(_uuid_key(event, column) for column in source.columns)
                self.direct.setdefault(kind, set()).add(root)
            else:
                self.lookups.setdefault((kind, event.table), set()).add(_uuid_key(event, source.column))
        if not touched:
            return
        if event.lsn is not None:
            self.max_lsn = event.lsn if self.max_lsn is None else max(self.max_lsn, event.lsn)
        if event.txid is not None:
            self.txids.add(event.txid)

    def empty(self) -> bool:
        return not any(self.direct.values()) and not self.lookups


def _reads_the_same(source: Direct | Lookup, event: ChangeEvent) -> bool:
    """Whether ``event`` is an update whose old and new row read the same for ``source`` (a row that cannot be read,
    a column gone or renamed, counts as a change)."""
    if source.reads is None or event.op != "u" or event.before is None or event.after is None:
        return False
    try:
        return bool(source.reads(event.before) == source.reads(event.after))
    except (KeyError, TypeError, ValueError):
        return False


def _uuid_key(event: ChangeEvent, column: str) -> str:
    raw = event.key.get(column)
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError as exc:
        raise PoisonEventError(f"{event.table} key {column}={raw!r} is not a UUID") from exc


def route(view: View, events: list[ChangeEvent], replaying: Callable[[ChangeEvent], bool] | None = None) -> RootRefs:
    """The roots ``events`` touch (``replaying``: which of them a replay reads again, see RootRefs.add)."""
    refs = RootRefs()
    for event in events:
        refs.add(view, event, replaying is not None and replaying(event))
    return refs


def lookup_sql(view: View, kind: int, table: str) -> str:
    source = view.documents[kind].sources[table]
    assert isinstance(source, Lookup)
    return source.sql


# A document's version orders the snapshots it was built from (ARCHITECTURE §4, invariant 8). The WAL insert
# position does not: a transaction's commit record is written before the transaction becomes visible to new
# snapshots, so a snapshot can read a position past a commit it does not see, and two rebuilds at one position can
# see different data. The snapshot itself does order them: visibility only grows with time, its xmax (one past
# the newest completed transaction) never goes down, and at an equal xmax a later snapshot has fewer transactions
# in progress (none can start below xmax). So version = (xmax, fewer in progress) packed into one integer, placed
# above every WAL position a document of an older release can carry (positions below 1 TiB of WAL).
VERSION_BASE = 1 << 40
IN_PROGRESS_BITS = 16
IN_PROGRESS_MAX = (1 << IN_PROGRESS_BITS) - 1


def snapshot_version(xmax: int, in_progress: int) -> int:
    """The external version of documents built from a snapshot with this xmax and this many xids in progress:
    a later snapshot never gets a lower one, and equal versions mean equal visibility (the same data)."""
    return VERSION_BASE + (xmax << IN_PROGRESS_BITS) + IN_PROGRESS_MAX - min(in_progress, IN_PROGRESS_MAX)


@dataclass(frozen=True)
class Rebuilt:
    """Documents rebuilt from one consistent snapshot of the master, taken at WAL position ``lsn`` and versioned
    by ``version`` (snapshot_version of that snapshot)."""

    lsn: int
    docs: dict[str, dict[str, Any] | bytes]  # bytes: the document's JSON text as the master built it
    deleted: frozenset[str]
    version: int


def bulk_operations(index: str, rebuilt: Rebuilt, now: datetime | None = None) -> list[Any]:
    """Index live roots and delete vanished ones, versioned by the snapshot they were built from.

    external_gte: a rebuild from an older snapshot (lower version) is refused by Elasticsearch, so a replayed or
    late batch, or a concurrent rebuilder with an older snapshot, never overwrites a newer document; an equal
    version means the same visible data, so re-applying it is a no-op in effect (at-least-once stays idempotent).
    """
    stamp = (now or datetime.now(UTC)).isoformat()
    version = {"version": rebuilt.version, "version_type": "external_gte"}
    added = {"source_lsn": lsn_text(rebuilt.lsn), "indexed_at": stamp}
    added_json = orjson.dumps(added)[1:-1]  # the two members, spliced into documents kept as JSON text
    ops: list[Any] = []
    for root_id in sorted(rebuilt.docs):
        built = rebuilt.docs[root_id]
        ops.append({"index": {"_index": index, "_id": root_id, **version}})
        ops.append(orjson.Fragment(_with_members(built, added_json)) if isinstance(built, bytes) else built | added)
    for root_id in sorted(rebuilt.deleted):
        ops.append({"delete": {"_index": index, "_id": root_id, **version}})
    return ops


def _with_members(doc: bytes, members: bytes) -> bytes:
    """A JSON object's text with ``members`` (``"a":1,"b":2``) added before its closing brace."""
    body = doc.rstrip()
    if not body.endswith(b"}"):
        raise ValueError(f"not a JSON object: {doc[:80]!r}")
    inner = body[:-1].rstrip()
    return inner + (b"" if inner.endswith(b"{") else b",") + members + b"}"


def send_bulk(es: Elasticsearch, ops: list[Any], max_bytes: int) -> BulkOutcome:
    """Sends ``ops`` as NDJSON bodies of at most ``max_bytes`` (``bulk_bodies``: serialized once, the client sends
    the bytes as they are) and reads every item's outcome. Errors of a whole request propagate to the caller.

    No refresh per request (``refresh=true`` on every _bulk was most of Elasticsearch's cost per change): the sink's
    watermark refreshes the view on a cadence before it publishes a position (``sinks.watermark``)."""
    items: list[dict[str, Any]] = []
    for body in bulk_bodies(ops, max_bytes):
        items += es.bulk(operations=body).body.get("items", [])  # type: ignore[arg-type]
    return read_bulk_response({"items": items})


def bulk_bodies(ops: list[Any], max_bytes: int) -> list[bytes]:
    """The _bulk NDJSON of ``ops`` (action lines, each followed by its document unless a delete), serialized once
    (orjson) and cut into bodies of at most ``max_bytes`` each (a single action bigger than that goes alone), so a
    fan-out to thousands of documents is several requests of a sane size, not one Elasticsearch may refuse."""
    bodies: list[bytes] = []
    current: list[bytes] = []
    size = 0
    i = 0
    while i < len(ops):
        action = ops[i]
        lines = [orjson.dumps(action)]
        i += 1
        if "delete" not in action:
            lines.append(orjson.dumps(ops[i]))
            i += 1
        item = b"\n".join(lines) + b"\n"
        if current and size + len(item) > max_bytes:
            bodies.append(b"".join(current))
            current, size = [], 0
        current.append(item)
        size += len(item)
    if current:
        bodies.append(b"".join(current))
    return bodies


@dataclass(frozen=True)
class BulkOutcome:
    applied: int
    stale: int  # refused because a newer version is already there
    rejected: dict[str, str]  # root id -> reason (the document itself is unacceptable)
    retryable: dict[str, str]  # root id -> reason (overload, unavailable shard, write block, unauthorized)
    deploy: dict[str, str] = field(default_factory=dict)  # root id -> reason (index missing)


# Item errors that say the store cannot take writes now (or this deploy cannot), not that the document is wrong.
STORE_REFUSALS = frozenset(
    {
        "cluster_block_exception",  # index.blocks.write, flood-stage read_only_allow_delete
        "index_not_found_exception",
        "security_exception",
        "es_rejected_execution_exception",
        "unavailable_shards_exception",
        "no_shard_available_action_exception",
    }
)
DEPLOY_REFUSALS = frozenset({"index_not_found_exception"})


def read_bulk_response(response: dict[str, Any]) -> BulkOutcome:
    """Sorts a _bulk answer's items: applied, stale (an equal or newer version is there), refused by the store
    (outage or deploy: retry, never dead-letter) and rejected (the document itself is unacceptable: poison)."""
    applied = stale = 0
    rejected: dict[str, str] = {}
    retryable: dict[str, str] = {}
    deploy: dict[str, str] = {}
    for item in response.get("items", []):
        ((action, result),) = item.items()
        status = int(result.get("status", 500))
        root_id = str(result.get("_id"))
        error = result.get("error")
        error_type = error.get("type", "") if isinstance(error, dict) else ""
        if status < 300 or (action == "delete" and status == 404 and not error):
            applied += 1
        elif status == 409:
            stale += 1
        elif error_type in DEPLOY_REFUSALS:
            deploy[root_id] = _reason(result)
        elif status in (401, 403, 404, 408, 429) or status >= 500 or error_type in STORE_REFUSALS:
            retryable[root_id] = _reason(result)
        else:
            rejected[root_id] = _reason(result)
    return BulkOutcome(applied, stale, rejected, retryable, deploy)


def _reason(result: dict[str, Any]) -> str:
    err = result.get("error") or {}
    if isinstance(err, dict):
        return f"{err.get('type', 'error')}: {err.get('reason', '')}"[:500]
    return str(err)[:500]
