"""Operator requests carried out by a view's workers (sinks/control.py): the control field of the sync document, and
a worker's side of a replay and a pause against stand-ins for its consumer and its sync document."""

from __future__ import annotations

import time
from typing import Any, cast

from confluent_kafka import TopicPartition

from farmacy.consistency import SyncDocument as F
from sinks.control import (
    DONE,
    ID,
    PAUSE,
    PAUSED,
    REPLAY,
    WORKERS,
    Control,
    control_of,
    pause_request,
    pending_replay,
    replay_request,
    with_acknowledged,
    with_control,
)
from sinks.replay_marks import ReplayMarks, parse_mark
from sinks.runner import Runner, RunnerConfig
from sinks.sync_document import sync_document
from sinks.views.inventory import VIEW as INVENTORY

T = "farmacy.catalog.meals"


def _doc_with(**control: Any) -> dict[str, Any]:
    return with_control({}, "catalog", control)


def test_a_workers_publication_keeps_the_control_field() -> None:
    current = _doc_with(**{WORKERS: 3})
    published = sync_document(current, "catalog", "catalog", [f"{T}[0]"], {f"{T}[0]": 10})
    assert control_of(published) == {WORKERS: 3}


def test_none_removes_a_control_entry_and_leaves_the_others() -> None:
    doc = with_control(_doc_with(**{WORKERS: 2, PAUSE: pause_request()}), "catalog", {PAUSE: None})
    assert control_of(doc) == {WORKERS: 2}


def test_pending_replay_is_the_requested_partitions_not_done_among_the_given_ones() -> None:
    request = replay_request({f"{T}[0]": 5, f"{T}[1]": 7, f"{T}[2]": 0}, {f"{T}[0]": 9, f"{T}[1]": 8})
    request[DONE] = {f"{T}[1]": "0"}
    control = {REPLAY: request}
    assert pending_replay(control, {(T, 0), (T, 1), (T, 3)}) == {(T, 0): (5, 9)}
    assert pending_replay(control, {(T, 2)}) == {(T, 2): (0, 0)}  # no mark: nothing past its end to re-derive


def test_an_acknowledgement_of_a_replaced_request_changes_nothing() -> None:
    doc = _doc_with(**{REPLAY: replay_request({f"{T}[0]": 1}, {})})
    assert with_acknowledged(doc, REPLAY, "an-older-request", [(T, 0)], "0") == doc
    request_id = control_of(doc)[REPLAY][ID]
    acknowledged = with_acknowledged(doc, REPLAY, request_id, [(T, 0)], "1")
    assert control_of(acknowledged)[REPLAY][DONE] == {f"{T}[0]": "1"}


class FakeStore:
    """The view's sync document, changed the way SyncStore changes it (no Elasticsearch)."""

    sync_index = "sync"

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.seen: dict[str, Any] | None = None
        self.seen_at = float("-inf")

    def change(self, change: Any) -> dict[str, Any]:
        self.doc = change(self.doc)
        self.seen, self.seen_at = self.doc, time.monotonic()
        return self.doc


class FakeEs:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def get(self, **_kwargs: Any) -> dict[str, Any]:
        return {"_source": {F.CONTROL: control_of(self.store.doc)}}


class FakeConsumer:
    def __init__(self) -> None:
        self.commits: list[tuple[str, int, int, str | None]] = []
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        assert not asynchronous
        self.commits += [(tp.topic, tp.partition, tp.offset, tp.metadata) for tp in offsets]
        return offsets

    def seek(self, tp: TopicPartition) -> None:
        self.positions[(tp.topic, tp.partition)] = tp.offset

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}


def _worker(store: FakeStore, name: str) -> Control:
    return Control(FakeEs(store), store, "catalog", name, idle_check_s=0, active_check_s=0)  # type: ignore[arg-type]


def test_a_replay_commits_each_owned_partition_with_its_mark_seeks_there_and_records_it_done() -> None:
    store = FakeStore(_doc_with(**{REPLAY: replay_request({f"{T}[0]": 3, f"{T}[1]": 4}, {f"{T}[0]": 9})}))
    worker, consumer, marks = _worker(store, "0"), FakeConsumer(), ReplayMarks()
    assert worker.on_assign([TopicPartition(T, 0)]) is True  # pending for it: held until the step moves it
    worker.step(consumer, marks)  # type: ignore[arg-type]
    assert [(t, p, o, parse_mark(m)) for t, p, o, m in consumer.commits] == [(T, 0, 3, 9)]
    assert consumer.positions == {(T, 0): 3}
    assert marks.until == {(T, 0): 9}
    assert control_of(store.doc)[REPLAY][DONE] == {f"{T}[0]": "0"}
    assert worker.held == set()


def test_a_partition_assigned_while_a_replay_is_pending_is_moved_by_its_new_owner() -> None:
    store = FakeStore(_doc_with(**{REPLAY: replay_request({f"{T}[0]": 3, f"{T}[1]": 4}, {})}))
    first, second = _worker(store, "0"), _worker(store, "1")
    first.on_assign([TopicPartition(T, 0)])
    first.step(FakeConsumer(), ReplayMarks())  # type: ignore[arg-type]
    # Partition 1 had no owner when the request came; it is assigned to the second worker afterwards.
    consumer = FakeConsumer()
    assert second.on_assign([TopicPartition(T, 1)]) is True
    second.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert consumer.commits == [(T, 1, 4, None)]
    assert control_of(store.doc)[REPLAY][DONE] == {f"{T}[0]": "0", f"{T}[1]": "1"}
    first.on_assign([TopicPartition(T, 0)])  # done: a later owner does not move it again
    again = FakeConsumer()
    first.step(again, ReplayMarks())  # type: ignore[arg-type]
    assert again.commits == []


def test_a_pause_holds_every_partition_including_ones_assigned_later_until_it_is_withdrawn() -> None:
    store = FakeStore(_doc_with(**{PAUSE: pause_request()}))
    worker, consumer = _worker(store, "0"), FakeConsumer()
    worker.on_assign([TopicPartition(T, 0)])
    worker.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert consumer.paused == {(T, 0)}
    assert worker.on_assign([TopicPartition(T, 1)]) is True  # assigned during the pause: paused from the start
    worker.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert set(control_of(store.doc)[PAUSE][PAUSED]) == {f"{T}[0]", f"{T}[1]"}
    assert not worker.resumed
    store.doc = with_control(store.doc, "catalog", {PAUSE: None})
    worker.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert consumer.paused == set()
    assert worker.resumed  # the runner checks the alias's index again: a pause surrounds an alias swap


def test_a_document_that_cannot_be_read_at_an_assignment_holds_the_partitions() -> None:
    class Unreachable:
        def get(self, **_kwargs: Any) -> dict[str, Any]:
            from elasticsearch import TransportError

            raise TransportError("connection refused")

    store = FakeStore({})
    worker = Control(Unreachable(), store, "catalog", "0", idle_check_s=0, active_check_s=0)  # type: ignore[arg-type]
    assert worker.on_assign([TopicPartition(T, 0)]) is True
    consumer = FakeConsumer()
    consumer.paused = {(T, 0)}
    worker.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert consumer.paused == {(T, 0)}, "still held: a request may stand that this worker cannot see"
    worker.es = FakeEs(store)  # type: ignore[assignment]
    worker.step(consumer, ReplayMarks())  # type: ignore[arg-type]
    assert consumer.paused == set()


def test_the_worker_count_reported_is_the_requested_one_else_the_default() -> None:
    store = FakeStore({})
    worker = _worker(store, "0")
    worker.step(FakeConsumer(), ReplayMarks())  # type: ignore[arg-type]
    assert worker.workers(default=1) == 1
    store.doc = with_control(store.doc, "catalog", {WORKERS: 3})
    worker.step(FakeConsumer(), ReplayMarks())  # type: ignore[arg-type]
    assert worker.workers(default=1) == 3


class AssigningConsumer(FakeConsumer):
    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = [(tp.topic, tp.partition) for tp in partitions]


def test_the_runner_holds_partitions_assigned_while_a_request_stands_and_runs_the_others() -> None:
    none = cast(Any, None)
    consumer = AssigningConsumer()
    held = _worker(FakeStore(_doc_with(**{PAUSE: pause_request()})), "0")
    runner = Runner(INVENTORY, [T], cast(Any, consumer), none, none, none, RunnerConfig(), None, held)
    runner._on_assign(cast(Any, consumer), [TopicPartition(T, 0)])
    assert consumer.assigned == [(T, 0)] and consumer.paused == {(T, 0)}
    free = _worker(FakeStore({}), "1")
    runner = Runner(INVENTORY, [T], cast(Any, consumer), none, none, none, RunnerConfig(), None, free)
    runner._on_assign(cast(Any, consumer), [TopicPartition(T, 0)])
    assert consumer.paused == set()


def test_a_forgotten_index_check_asks_elasticsearch_again() -> None:
    from sinks.index_version import IndexVersionCheck

    check = IndexVersionCheck()
    check.checked_until = float("inf")
    check.forget()
    assert check.checked_until == 0.0
