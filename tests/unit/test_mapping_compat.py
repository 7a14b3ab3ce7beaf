"""How two mappings of a view relate (sinks/mapping_compat.py), what a projected view's query leaves out
(sinks/view.py), and the pre-flight's check of a document against a strict mapping (ops/rollout.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops.rollout import unmapped_fields
from sinks.errors import DeployError
from sinks.index_version import writable_view
from sinks.mapping_compat import field_types, projection_onto, type_changes
from sinks.view import without_fields
from sinks.views import VIEWS

CATALOG = VIEWS["catalog"].mapping["mappings"]


def without(mapping: dict[str, Any], name: str) -> dict[str, Any]:
    older = copy.deepcopy(mapping)
    del older["properties"][name]
    return older


def test_field_types_name_objects_nested_fields_and_multi_fields() -> None:
    types = field_types(CATALOG["properties"])
    assert types["name"] == "text" and types["name.raw"] == "keyword"
    assert types["availability"] == "nested" and types["availability.geo"] == "geo_point"
    assert types["totals"] == "object" and types["totals.well_stocked"] == "integer"
    assert types["spice_level"] == "byte"


def test_a_type_change_on_an_existing_field_is_named() -> None:
    new = copy.deepcopy(CATALOG)
    new["properties"]["price_cents"] = {"type": "keyword"}
    new["properties"]["availability"]["properties"]["level"] = {"type": "integer"}
    changes = type_changes(CATALOG, new)
    assert [(c.field, c.live, c.new) for c in changes] == [
        ("availability.level", "keyword", "integer"),
        ("price_cents", "integer", "keyword"),
    ]
    assert "'price_cents'" in str(changes[1])


def test_a_new_analyzer_or_a_new_multi_field_is_no_type_change() -> None:
    new = copy.deepcopy(CATALOG)
    new["properties"]["description"] = {"type": "text", "analyzer": "english", "fields": {"raw": {"type": "keyword"}}}
    assert type_changes(CATALOG, new) == []


def test_added_and_dropped_fields_are_no_type_change() -> None:
    assert type_changes(without(CATALOG, "spice_level"), CATALOG) == []
    assert type_changes(CATALOG, without(CATALOG, "description")) == []


def test_an_older_mapping_that_lacks_top_level_fields_takes_the_documents_without_them() -> None:
    assert projection_onto(CATALOG, CATALOG) == ()
    assert projection_onto(CATALOG, without(CATALOG, "spice_level")) == ("spice_level",)
    older = without(without(CATALOG, "spice_level"), "suggest")
    assert projection_onto(CATALOG, older) == ("spice_level", "suggest")


@pytest.mark.parametrize(
    "change",
    ["type changed", "field added inside an object", "no fields"],
)
def test_no_projection_onto_an_older_mapping_that_differs_otherwise(change: str) -> None:
    older = copy.deepcopy(CATALOG)
    if change == "type changed":
        older["properties"]["price_cents"] = {"type": "keyword"}
    elif change == "field added inside an object":
        del older["properties"]["totals"]["properties"]["well_stocked"]
    else:
        older = {"_meta": {"index_version": 1}}
    assert projection_onto(CATALOG, older) is None


def test_a_projected_query_leaves_the_fields_out_of_each_document() -> None:
    sql = without_fields("SELECT id, doc FROM t WHERE id = ANY(%(ids)s)", ("spice_level", "suggest"))
    assert sql == (
        "SELECT built.id, built.doc - ARRAY['spice_level', 'suggest']::text[] AS doc "
        "FROM (SELECT id, doc FROM t WHERE id = ANY(%(ids)s)) AS built"
    )
    assert without_fields("SELECT 1", ()) == "SELECT 1"
    with pytest.raises(ValueError, match="no field name"):
        without_fields("SELECT 1", ("x'; DROP TABLE t; --",))


def test_a_projected_view_projects_every_kind_of_document() -> None:
    view = VIEWS["catalog"]
    assert view.projected(()) is view
    projected = view.projected(("spice_level",))
    assert all("ARRAY['spice_level']" in d.build_sql for d in projected.documents)
    assert projected.index_version == view.index_version and projected.alias == view.alias


def test_fields_a_strict_mapping_does_not_declare_are_named_with_their_path() -> None:
    doc = {
        "meal_id": "m",
        "spice_level": 3,
        "heat": 1,
        "availability": [{"level": "low", "stock": 2}],
        "totals": {"locations": 1, "extra": 0},
    }
    assert unmapped_fields(doc, CATALOG["properties"]) == ["availability.stock", "heat", "totals.extra"]
    assert unmapped_fields(doc, without(CATALOG, "spice_level")["properties"])[-1] == "totals.extra"
    assert "spice_level" in unmapped_fields(doc, without(CATALOG, "spice_level")["properties"])


def test_a_worker_writes_an_older_additive_index_with_its_documents_projected_and_pauses_on_any_other() -> None:
    view = VIEWS["catalog"]
    current = copy.deepcopy(CATALOG)
    assert writable_view(view, "catalog-v3", current) is view
    older = without(CATALOG, "spice_level")
    older["_meta"] = {**older["_meta"], "index_version": view.index_version - 1}
    assert "ARRAY['spice_level']" in writable_view(view, "catalog-v2", older).build_sql
    older["properties"]["price_cents"] = {"type": "keyword"}
    with pytest.raises(DeployError, match="farmacy rollout catalog"):
        writable_view(view, "catalog-v2", older)
