"""Scheduled reconciliation (ops/reconciler.py): a document lost from a view is drift that two passes agree on;
it is exported as a metric, and repaired when the setting allows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY

from farmacy.settings import Settings
from ops.reconciler import run_once
from sinks.bootstrap import read_pool
from tests.support.api import command_client, new_meal
from tests.support.views import current_lsn, doc, es_client, wait_applied

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def es(stack: Settings) -> Iterator[Elasticsearch]:
    client = es_client(stack)
    yield client
    client.close()


def _drift(view: str, kind: str) -> float | None:
    return REGISTRY.get_sample_value("farmacy_reconcile_drift_documents", {"view": view, "kind": kind})


def test_lost_document_is_reported_then_repaired(stack: Settings, admin_token: str, es: Elasticsearch) -> None:
    with command_client(stack, admin_token) as cmd:
        meal = new_meal(cmd)
        assert cmd.post(f"/catalog/meals/{meal['id']}/publish").status_code == 200
    wait_applied(es, stack, current_lsn(stack), ["catalog"], timeout=60)
    es.delete(index="catalog", id=meal["id"], refresh=True)  # lost behind the sink's back: no event will bring it

    only_catalog = stack.model_copy(update={"views": ("catalog",)})
    with read_pool(stack, "reconciler-test") as pool:
        (found,) = run_once(only_catalog, pool, es, settle_s=1)
        assert meal["id"] in found.missing and found.repaired == 0
        assert (_drift("catalog", "missing") or 0) >= 1
        assert doc(es, "catalog", meal["id"]) is None  # reported, not repaired: repair is off by default

        repairing = only_catalog.model_copy(update={"reconcile_repair": True})
        (repaired,) = run_once(repairing, pool, es, settle_s=1)
        assert meal["id"] in repaired.missing and repaired.repaired >= 1
        assert doc(es, "catalog", meal["id"]) is not None

        (clean,) = run_once(only_catalog, pool, es, settle_s=1)
    assert clean.total == 0 and _drift("catalog", "missing") == 0
