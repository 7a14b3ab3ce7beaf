"""How a view is declared: which tables feed it, how a change maps to its roots, how a root is built.

A view knows nothing of Kafka or of the runner; the runner knows nothing of any particular view.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

VIEWS_DIR = Path(__file__).with_name("views")


# What the documents read of a changed row (a function of the row's columns): an update whose old and new row read
# the same touches no document, so the sink skips it. None: the documents read the whole row. Needs the old row in
# the event, so the table has REPLICA IDENTITY FULL; an event without it (a snapshot read, an insert, a delete
# under the default identity) always touches its roots.
Reads = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class Direct:
    """The changed row's key column *is* the root id (the root table, or a child keyed by its root). Several columns
    make a composite id, their values joined by "/" in this order."""

    column: str | tuple[str, ...]
    reads: Reads | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,) if isinstance(self.column, str) else self.column


@dataclass(frozen=True)
class Lookup:
    """The roots are found by a query over the changed keys (fan-out from an embedded entity).

    ``sql`` takes one parameter, an array of the key column's values, and returns one column of root ids.
    """

    column: str
    sql: str
    reads: Reads | None = None


RootSource = Direct | Lookup
FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def without_fields(build_sql: str, fields: tuple[str, ...]) -> str:
    """``build_sql`` whose documents leave out these top-level fields (names from a mapping file, checked here)."""
    if not fields:
        return build_sql
    for name in fields:
        if not FIELD_NAME.match(name):
            raise ValueError(f"{name!r} is no field name of a view")
    names = ", ".join(f"'{name}'" for name in fields)
    return f"SELECT built.id, built.doc - ARRAY[{names}]::text[] AS doc FROM ({build_sql}) AS built"


RootRefsLike = dict[int, set[str]]  # kind -> document ids


@dataclass(frozen=True)
class Documents:
    """One kind of document in a view's index: which changes touch which of them, and how they are built.

    ``build_sql`` takes ``%(ids)s`` (text[] of document ids) and returns (id text, doc json) for each live one; an id
    it does not return is deleted. ``ids_sql`` lists every document id the master holds now (for reconciliation
    and blue/green fills), in id order."""

    sources: dict[str, RootSource]
    build_sql: str
    ids_sql: str
    parts: int = 1  # how many "/"-joined values make one of these ids; each kind of a view has its own count


@dataclass(frozen=True)
class View:
    name: str
    root: str  # "schema.table" whose primary key "id" is the id of the view's first kind of document
    sources: dict[str, RootSource]  # "schema.table" -> how its changes map to roots
    build_sql: str  # one parameter (uuid[] of roots); returns (id text, doc json) for each live root
    # Further kinds of document in the same index (ids distinct from the first kind's): a view whose root has many
    # children can keep each child as a document of its own, so a change to one child rewrites one small document.
    more: tuple[Documents, ...] = ()
    # The alias the view is written through and read from; its name unless set (a benchmark's scratch copy).
    alias_name: str = ""

    @property
    def documents(self) -> tuple[Documents, ...]:
        """Every kind of document of the view, the root's first."""
        schema, table = self.root.split(".")
        first = Documents(self.sources, self.build_sql, f'SELECT id::text FROM "{schema}"."{table}" ORDER BY 1')
        return (first, *self.more)

    def kind_of(self, doc_id: str) -> int:
        """Which kind of document (position in ``documents``) an id names: told apart by how many parts it has."""
        parts = doc_id.count("/") + 1
        for kind, documents in enumerate(self.documents):
            if documents.parts == parts:
                return kind
        raise ValueError(f"{doc_id!r} is no document id of view {self.name}")

    def by_kind(self, ids: list[str] | set[str]) -> RootRefsLike:
        """Ids grouped by kind."""
        grouped: dict[int, set[str]] = {}
        for doc_id in ids:
            grouped.setdefault(self.kind_of(doc_id), set()).add(doc_id)
        return grouped

    def projected(self, fields: tuple[str, ...]) -> View:
        """The view whose documents leave out these top-level fields: what an index of an older mapping version,
        kept for a rollback, takes (sinks/mapping_compat.projection_onto)."""
        if not fields:
            return self
        more = tuple(replace(d, build_sql=without_fields(d.build_sql, fields)) for d in self.more)
        return replace(self, build_sql=without_fields(self.build_sql, fields), more=more)

    @property
    def tables(self) -> list[str]:
        """Every table whose changes the view reads (one topic each), in declaration order."""
        return list(dict.fromkeys(t for d in self.documents for t in d.sources))

    @property
    def folder(self) -> Path:
        """``sinks/views/<name>/``: the declaration and its index mapping."""
        return VIEWS_DIR / self.name

    @property
    def mapping(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / "mapping.json").read_text()))

    @property
    def index_version(self) -> int:
        return int(self.mapping["mappings"]["_meta"]["index_version"])

    @property
    def alias(self) -> str:
        return self.alias_name or self.name

    @property
    def index_name(self) -> str:
        return f"{self.name}-v{self.index_version}"
