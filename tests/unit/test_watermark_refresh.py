"""A published position is searchable: the worker refreshes the view's index before any publication that could
cover a write no refresh has made searchable yet, and pays for refreshes and publications per interval, not per
batch (``Watermark.refresh_view``, ``publish_interval_s``)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from sinks.watermark import Watermark

P = ("farmacy.inventory.stock", 0)


class _Indices:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def refresh(self, index: str) -> None:
        self.calls.append(f"refresh {index}")


class _Elasticsearch:
    """Records the order of the calls a watermark makes; answers like Elasticsearch for one sync document."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.indices = _Indices(self.calls)
        self.seq = 0

    def get(self, index: str, id: str) -> Any:
        from elasticsearch import NotFoundError

        raise NotFoundError("not found", None, None)  # type: ignore[arg-type]

    def index(self, index: str, id: str, document: dict[str, Any], **_guard: Any) -> dict[str, int]:
        self.calls.append(f"publish {document.get('applied_lsn_int')}")
        self.seq += 1
        return {"_seq_no": self.seq, "_primary_term": 1}


def _watermark(es: _Elasticsearch, publish_interval_s: float = 0.2) -> Watermark:
    none: Any = None
    wm = Watermark(
        "inventory",
        "inventory",
        none,
        none,
        lambda: none,
        es,  # type: ignore[arg-type]
        "slot",
        "farmacy-sync",
        publish_interval_s=publish_interval_s,
        interval_s=10,
    )
    wm._expected, wm._expected_at = ["farmacy.inventory.stock[0]"], time.monotonic()
    wm.positions[P] = 0
    wm._covered = {P}
    wm._last_observed = time.monotonic()  # no slot observation in these tests: positions are reached by hand
    return wm


def _reach(wm: Watermark, lsn: int) -> None:
    wm.reached = lsn


def test_a_write_is_refreshed_before_the_position_that_covers_it_is_published() -> None:
    es = _Elasticsearch()
    wm = _watermark(es, publish_interval_s=0)
    wm.refresh_view()  # whatever a previous owner wrote
    es.calls.clear()
    wm.mark_written()
    _reach(wm, 100)
    wm.tick(1, 0)
    assert es.calls == ["refresh inventory", "publish 100"]


def test_no_refresh_when_nothing_was_written_since_the_last_one() -> None:
    es = _Elasticsearch()
    wm = _watermark(es, publish_interval_s=0)
    wm.refresh_view()
    es.calls.clear()
    _reach(wm, 100)  # a heartbeat moved the slot; nothing written
    wm.tick(0, 0)
    assert es.calls == ["publish 100"]


def test_a_newly_assigned_partition_is_refreshed_before_it_is_published() -> None:
    es = _Elasticsearch()
    wm = _watermark(es, publish_interval_s=0)
    wm.refresh_view()
    es.calls.clear()
    wm.on_revoke([])
    wm._unrefreshed = False
    wm.unknown.clear()
    # on_assign marks the index unrefreshed: the partition's previous owner may have written without a refresh
    wm._resolve_unknown = lambda timeout: None  # type: ignore[method-assign]
    wm.on_assign([])
    _reach(wm, 100)
    wm.tick(0, 0)
    assert es.calls == ["refresh inventory", "publish 100"]


def test_publications_come_at_most_once_per_interval_and_the_first_at_once() -> None:
    es = _Elasticsearch()
    wm = _watermark(es, publish_interval_s=0.2)
    wm.mark_written()
    _reach(wm, 100)
    wm.tick(1, 0)
    assert es.calls == ["refresh inventory", "publish 100"]  # the first after a quiet spell: at once
    wm.mark_written()
    _reach(wm, 200)
    wm.tick(2, 0)
    assert es.calls == ["refresh inventory", "publish 100"]  # within the interval: waits
    assert 0 < wm.due_in() <= 0.2  # and the consume loop wakes up for it
    time.sleep(0.21)
    assert wm.due_in() == 0.0
    wm.tick(2, 0)
    assert es.calls[2:] == ["refresh inventory", "publish 200"]


def test_a_failed_refresh_publishes_nothing_and_is_tried_again() -> None:
    es = _Elasticsearch()
    wm = _watermark(es, publish_interval_s=0)

    def fail(index: str) -> None:
        from elasticsearch import ConnectionError as ESConnectionError

        raise ESConnectionError("down")

    es.indices.refresh = fail  # type: ignore[method-assign]
    wm.mark_written()
    _reach(wm, 100)
    with pytest.raises(Exception, match="not refreshed"):
        wm.tick(1, 0)
    assert es.calls == []
    es.indices = _Indices(es.calls)
    wm.tick(1, 0)
    assert es.calls == ["refresh inventory", "publish 100"]
