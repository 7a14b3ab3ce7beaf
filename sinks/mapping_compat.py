"""How two mappings of a view relate, field by field: the pre-flight check of a rollout and the projection that lets a
worker keep an index of an older mapping version current (docs/changing-a-view.md). Pure: mappings in, findings out.

A field is named by its path ("availability.level", "name.raw" for a multi-field) and has a type ("object" when it has
properties but no type). Changing the type of a field that exists is refused: readers of the alias (queries built for
the old type) and the rollback window (the old index must take what the code writes) both need a field to keep its
type; the supported path is expand/contract, a new field beside the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TypeChange:
    field: str
    live: str
    new: str

    def __str__(self) -> str:
        return (
            f"field {self.field!r}: type {self.live} in the live index, {self.new} in the new mapping "
            "(a field keeps its type: add a new field beside it, move readers, then drop the old one)"
        )


def field_types(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every field of a mapping's ``properties`` (objects, nested fields and multi-fields included) with its type."""
    found: dict[str, str] = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        found[path] = str(spec.get("type", "object"))
        found.update(field_types(spec.get("properties", {}), f"{path}."))
        found.update(field_types(spec.get("fields", {}), f"{path}."))
    return found


def type_changes(live: dict[str, Any], new: dict[str, Any]) -> list[TypeChange]:
    """Fields of the live mapping (``mappings`` of an index) whose type the new mapping changes, in path order."""
    old_types = field_types(live.get("properties", {}))
    new_types = field_types(new.get("properties", {}))
    return [
        TypeChange(path, old_types[path], new_types[path])
        for path in sorted(old_types.keys() & new_types.keys())
        if old_types[path] != new_types[path]
    ]


def projection_onto(code: dict[str, Any], index: dict[str, Any]) -> tuple[str, ...] | None:
    """The top-level fields to leave out of the code's documents so that they fit an index of an older mapping.

    That is an additive change: every field both have keeps its type, and nothing was added inside a field the index
    has (a field only the index has is simply absent from the documents). None when there is no such projection: the
    index has no fields, a type changed, or a field was added inside one the index has."""
    index_props = index.get("properties", {})
    code_props = code.get("properties", {})
    if not index_props:
        return None
    index_types = field_types(index_props)
    code_types = field_types(code_props)
    for path, kind in code_types.items():
        top = path.split(".", 1)[0]
        if top in index_props and index_types.get(path) != kind:
            return None  # a changed type, or a field added inside one the index has
    return tuple(sorted(set(code_props) - set(index_props)))
