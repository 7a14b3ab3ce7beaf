"""The catalog reads a stock row's level only: an update that keeps the level touches no catalog document, unless a
replay reads it again; the level is the same in Python (the skip) and in SQL (the build). The inventory's location
summary reads a line's low-stock flag only, the same way."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from farmacy.vocabulary import LOW_STOCK_AT, StockLevel, stock_level
from sinks.events import ChangeEvent
from sinks.pipeline import route
from sinks.replay_marks import ReplayMarks, parse_mark, replay_mark
from sinks.views.catalog import BUILD_SQL
from sinks.views.catalog import VIEW as CATALOG
from sinks.views.inventory import LOCATION_SQL, line_is_low
from sinks.views.inventory import VIEW as INVENTORY

L1, M1 = str(uuid.uuid4()), str(uuid.uuid4())
KEY = {"location_id": L1, "meal_id": M1}
TOPIC = "farmacy.inventory.stock"


def row(on_hand: int, reserved: int = 0) -> dict[str, Any]:
    return {"location_id": L1, "meal_id": M1, "on_hand": on_hand, "reserved": reserved, "version": 3}


def stock_event(
    before: dict[str, Any] | None, after: dict[str, Any] | None, op: str = "u", offset: int = 5
) -> ChangeEvent:
    return ChangeEvent(TOPIC, 0, offset, "inventory.stock", KEY, op, 100, 7, before=before, after=after)


@pytest.mark.parametrize(
    ("available", "level"),
    [(-1, None), (0, None), (1, StockLevel.LOW), (LOW_STOCK_AT, StockLevel.LOW), (LOW_STOCK_AT + 1, "available")],
)
def test_stock_level(available: int, level: str | None) -> None:
    assert stock_level(available) == level


def test_the_build_query_uses_the_same_threshold_and_names_as_the_skip() -> None:
    assert f"<= {LOW_STOCK_AT} THEN 'low'" in BUILD_SQL and "ELSE 'available'" in BUILD_SQL


def test_an_update_that_keeps_the_level_touches_no_catalog_document() -> None:
    assert route(CATALOG, [stock_event(row(12), row(11))]).empty()
    assert route(CATALOG, [stock_event(row(12, 0), row(14, 2))]).empty()  # reserved counts: 12 -> 12 available


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (row(3), row(2)),  # available -> low
        (row(1), row(0)),  # low -> none left: the location drops out of the meal's availability
        (row(0), row(5)),  # back in stock
        (row(5, 0), row(5, 4)),  # reservations take it low
    ],
)
def test_an_update_that_changes_the_level_rebuilds_the_meal(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert route(CATALOG, [stock_event(before, after)]).direct == {0: {M1}}


@pytest.mark.parametrize(
    ("before", "after", "op"),
    [
        (None, row(12), "u"),  # no old row (the default replica identity, or an event from before it changed)
        (None, row(12), "c"),
        (None, row(12), "r"),  # a snapshot read
        (row(12), None, "d"),
        (row(12), {"location_id": L1, "meal_id": M1}, "u"),  # a row the skip cannot read: a change, to be safe
    ],
)
def test_events_without_both_rows_always_rebuild(
    before: dict[str, Any] | None, after: dict[str, Any] | None, op: str
) -> None:
    assert route(CATALOG, [stock_event(before, after, op)]).direct == {0: {M1}}


def test_a_replay_rebuilds_even_an_update_that_keeps_the_level() -> None:
    refs = route(CATALOG, [stock_event(row(12), row(11))], replaying=lambda _e: True)
    assert refs.direct == {0: {M1}}


def test_an_inventory_line_reads_every_stock_change_and_its_location_only_the_low_stock_flag() -> None:
    assert route(INVENTORY, [stock_event(row(12), row(11))]).direct == {1: {f"{L1}/{M1}"}}
    assert route(INVENTORY, [stock_event(row(2), row(1))]).direct == {1: {f"{L1}/{M1}"}}  # low, and still low


@pytest.mark.parametrize(
    ("before", "after", "op"),
    [
        (row(LOW_STOCK_AT + 1), row(LOW_STOCK_AT), "u"),  # becomes low: the location counts and names it
        (row(0), row(8), "u"),  # restocked: no longer low
        (row(5, 0), row(5, 4), "u"),  # reservations take it low
        (None, row(12), "c"),  # a new line: one more meal there
        (row(12), None, "d"),
    ],
)
def test_a_line_that_comes_goes_or_flips_low_rebuilds_its_location(
    before: dict[str, Any] | None, after: dict[str, Any] | None, op: str
) -> None:
    assert route(INVENTORY, [stock_event(before, after, op)]).direct == {0: {L1}, 1: {f"{L1}/{M1}"}}


def test_the_location_summary_counts_low_lines_with_the_skips_threshold() -> None:
    assert f"st.on_hand - st.reserved <= {LOW_STOCK_AT}" in LOCATION_SQL
    assert line_is_low(row(LOW_STOCK_AT)) and not line_is_low(row(LOW_STOCK_AT + 1))
    assert line_is_low(row(LOW_STOCK_AT + 3, 3))


def test_replay_marks_round_trip_and_ignore_other_metadata() -> None:
    assert parse_mark(replay_mark(42)) == 42
    assert parse_mark(None) is None and parse_mark("") is None and parse_mark("something else") is None
    assert parse_mark("replay-until=x") is None


class FakeCommitted:
    """Answers ``committed`` as Kafka would: the committed offsets with their metadata."""

    def __init__(self, committed: list[TopicPartition], fail: bool = False) -> None:
        self.answer, self.fail = committed, fail

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        from confluent_kafka import KafkaException

        if self.fail:
            raise KafkaException("coordinator not available")
        return self.answer


def test_a_worker_replays_below_the_mark_carries_it_in_its_commits_and_drops_it_past_the_end() -> None:
    marks = ReplayMarks()
    tp = TopicPartition(TOPIC, 0)
    marks.learn(FakeCommitted([TopicPartition(TOPIC, 0, 3, metadata=replay_mark(10))]), [tp], timeout=1)  # type: ignore[arg-type]
    assert marks.replaying(stock_event(row(12), row(11), offset=9))
    assert not marks.replaying(stock_event(row(12), row(11), offset=10))
    assert marks.metadata({(TOPIC, 0): 7}) == {(TOPIC, 0): replay_mark(10)}  # a restart now still replays
    assert marks.metadata({(TOPIC, 0): 10}) == {}  # past the end: the mark is dropped
    assert not marks.replaying(stock_event(row(12), row(11), offset=9))


def test_a_partition_whose_mark_cannot_be_read_counts_as_replayed_until_it_is() -> None:
    marks = ReplayMarks()
    tp = TopicPartition(TOPIC, 0)
    marks.learn(FakeCommitted([], fail=True), [tp], timeout=1)  # type: ignore[arg-type]
    assert marks.replaying(stock_event(row(12), row(11)))
    marks.retry(FakeCommitted([TopicPartition(TOPIC, 0, 3)]), timeout=1)  # type: ignore[arg-type]
    assert not marks.replaying(stock_event(row(12), row(11)))


def test_a_commit_without_a_mark_means_no_replay() -> None:
    marks = ReplayMarks()
    marks.learn(FakeCommitted([TopicPartition(TOPIC, 0, 3)]), [TopicPartition(TOPIC, 0)], timeout=1)  # type: ignore[arg-type]
    assert not marks.replaying(stock_event(row(12), row(11)))
    assert marks.metadata({(TOPIC, 0): 4}) == {}
