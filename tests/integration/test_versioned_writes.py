"""Invariant 2 on real Elasticsearch: external_gte versions refuse an older rebuild."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from sinks.pipeline import Rebuilt, bulk_operations, read_bulk_response

pytestmark = pytest.mark.integration


@pytest.fixture
def index(stack: Settings) -> Iterator[tuple[Elasticsearch, str]]:
    es = Elasticsearch(stack.elasticsearch_url)
    name = f"test-versions-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=name, mappings={"dynamic": True})
    yield es, name
    es.indices.delete(index=name)
    es.close()


def _write(es: Elasticsearch, index: str, rebuilt: Rebuilt) -> tuple[int, int]:
    outcome = read_bulk_response(dict(es.bulk(operations=bulk_operations(index, rebuilt), refresh=True).body))
    return outcome.applied, outcome.stale


def test_older_snapshot_never_replaces_a_newer_document(index: tuple[Elasticsearch, str]) -> None:
    es, name = index
    assert _write(es, name, Rebuilt(200, {"a": {"on_hand": 5}}, frozenset(), 200)) == (1, 0)
    assert _write(es, name, Rebuilt(100, {"a": {"on_hand": 9}}, frozenset(), 100)) == (0, 1)
    doc = es.get(index=name, id="a")
    assert doc["_source"]["on_hand"] == 5 and doc["_version"] == 200


def test_same_snapshot_applied_twice_is_accepted_and_changes_nothing(index: tuple[Elasticsearch, str]) -> None:
    es, name = index
    rebuilt = Rebuilt(300, {"a": {"on_hand": 5}}, frozenset(), 300)
    assert _write(es, name, rebuilt) == (1, 0)
    assert _write(es, name, rebuilt) == (1, 0)
    doc = es.get(index=name, id="a")
    assert doc["_source"]["on_hand"] == 5 and doc["_version"] == 300


def test_delete_from_an_older_snapshot_is_refused(index: tuple[Elasticsearch, str]) -> None:
    es, name = index
    _write(es, name, Rebuilt(500, {"a": {"on_hand": 1}}, frozenset(), 500))
    assert _write(es, name, Rebuilt(400, {}, frozenset({"a"}), 400)) == (0, 1)
    assert es.exists(index=name, id="a")
