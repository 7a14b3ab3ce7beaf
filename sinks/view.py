"""How a view is declared: which tables feed it, how a change maps to its roots, how a root is built.

A view knows nothing of Kafka or of the runner; the runner knows nothing of any particular view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VIEWS_DIR = Path(__file__).with_name("views")


@dataclass(frozen=True)
class Direct:
    """The changed row's key column *is* the root id (the root table, or a child keyed by its root)."""

    column: str


@dataclass(frozen=True)
class Lookup:
    """The roots are found by a query over the changed keys (fan-out from an embedded entity).

    ``sql`` takes one parameter, an array of the key column's values, and returns one column of root ids.
    """

    column: str
    sql: str


RootSource = Direct | Lookup


@dataclass(frozen=True)
class View:
    name: str
    root: str  # "schema.table" whose primary key "id" is the document id
    sources: dict[str, RootSource]  # "schema.table" -> how its changes map to roots
    build_sql: str  # one parameter (uuid[] of roots); returns (id text, doc json) for each live root

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
        return self.name

    @property
    def index_name(self) -> str:
        return f"{self.name}-v{self.index_version}"
