"""Operator requests a view's workers carry out themselves: replay from offsets, pause, how many workers to run.

A consumer group's offsets can only be moved from outside while the group has no members, and a blue/green rebuild
must not race a worker writing the old index. Rather than stopping the workers (which needs whatever runs them:
supervisord, compose, Kubernetes), the operator's tooling (ops/control.py) writes a request into the ``control``
field of the view's sync document, and the workers carry it out through the data plane, wherever they run:

- ``replay``: per partition ("topic[partition]"), the offset to read again from and the end the replay re-derives up
  to (sinks/replay_marks.py). The worker owning a partition commits the offset with its mark, seeks there, and
  records the partition in the request's ``done``. A partition assigned while the request is pending is held
  (paused) until its new owner has done that, so a rebalance in the middle still ends at the requested position.
- ``pause``: every worker pauses its partitions between two batches and records them in the request's ``paused``;
  partitions assigned while it stands are paused too. Removing the request resumes them.
- ``workers``: the number of workers the view should run, for the platform to honour (docs/deploy.md).

Workers stay quiet at rest: each already writes the sync document about every second (its published position
moves with the connector's heartbeats), by compare-and-set, and a write that nobody raced shows the document as it
stands (sinks/sync_store.py); a request makes the next write conflict, which reads it. Only when the document was
not seen for ``idle_check_s`` (a worker whose position does not move) does the worker read it itself, and every
``active_check_s`` while a request concerns it. A request is carried out between batches, never during one.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from farmacy.consistency import SyncDocument as F
from sinks.errors import RetryableError
from sinks.replay_marks import ReplayMarks, replay_mark
from sinks.sync_document import Partition, partition_key, partition_of
from sinks.sync_store import Document, SyncStore

REPLAY = "replay"
PAUSE = "pause"
WORKERS = "workers"
ID = "id"
OFFSETS = "offsets"  # replay: partition -> the offset to read again from
UNTIL = "until"  # replay: partition -> the end the replay re-derives up to
DONE = "done"  # replay: partition -> the worker that moved it
PAUSED = "paused"  # pause: partition -> the worker that paused it
REQUESTED_AT = "requested_at"


# -- the control field, pure --------------------------------------------------------------------------------------
def control_of(document: Document | None) -> dict[str, Any]:
    return dict((document or {}).get(F.CONTROL) or {})


def with_control(document: Document, view: str, change: dict[str, Any | None]) -> Document:
    """``document`` with its control field's entries replaced by ``change`` (None removes one)."""
    control = control_of(document)
    for key, value in change.items():
        if value is None:
            control.pop(key, None)
        else:
            control[key] = value
    return {**document, F.VIEW: view, F.CONTROL: control}


def replay_request(offsets: dict[str, int], until: dict[str, int]) -> dict[str, Any]:
    return {ID: uuid.uuid4().hex, OFFSETS: offsets, UNTIL: until, DONE: {}, REQUESTED_AT: time.time()}


def pause_request() -> dict[str, Any]:
    return {ID: uuid.uuid4().hex, PAUSED: {}, REQUESTED_AT: time.time()}


def pending_replay(control: dict[str, Any], partitions: set[Partition]) -> dict[Partition, tuple[int, int]]:
    """Of ``partitions``, those the standing replay request has not moved yet: partition -> (offset, until)."""
    request = control.get(REPLAY) or {}
    done = request.get(DONE) or {}
    until = request.get(UNTIL) or {}
    out: dict[Partition, tuple[int, int]] = {}
    for key, offset in (request.get(OFFSETS) or {}).items():
        partition = partition_of(key)
        if partition in partitions and key not in done:
            out[partition] = (int(offset), int(until.get(key, offset)))
    return out


def with_acknowledged(
    document: Document, kind: str, request_id: str, partitions: list[Partition], worker: str
) -> Document:
    """``document`` with ``partitions`` recorded as carried out by ``worker`` for the request ``request_id`` of
    ``kind`` (REPLAY: in its DONE, PAUSE: in its PAUSED); unchanged when that request no longer stands."""
    control = control_of(document)
    request = dict(control.get(kind) or {})
    if request.get(ID) != request_id:
        return document
    field = DONE if kind == REPLAY else PAUSED
    request[field] = {**(request.get(field) or {}), **{partition_key(p): worker for p in partitions}}
    return {**document, F.CONTROL: {**control, kind: request}}


# -- the worker's side --------------------------------------------------------------------------------------------
class Control:
    """One worker's side: learns the view's control field (from its own sync-document writes, at an assignment, or
    by reading it) and carries out, for the partitions assigned to it, what it asks (``step``, between batches)."""

    def __init__(
        self,
        es: Elasticsearch,
        store: SyncStore,
        view: str,
        worker: str,
        idle_check_s: float = 5.0,
        active_check_s: float = 0.5,
    ) -> None:
        self.es, self.store, self.view, self.worker = es, store, view, worker
        self.idle_check_s, self.active_check_s = idle_check_s, active_check_s
        self.control: dict[str, Any] = {}
        self.seen_at = float("-inf")  # when ``control`` was last read (time.monotonic())
        self.assigned: set[Partition] = set()
        self.held: set[Partition] = set()  # assigned, paused until a step settles them (a request, or unknown)
        self.unknown = False  # the document could not be read at an assignment: hold until it is
        self.paused_by: str | None = None  # the pause request this worker's partitions are paused for
        # Set when a pause ends: a pause surrounds an alias swap (rebuild, rollout, rollback), and the index the alias
        # points at now may take another mapping version, so the runner checks it again before it writes.
        self.resumed = False
        self.log = structlog.get_logger("control").bind(view=view, worker=worker)

    def workers(self, default: int) -> int:
        """How many workers the view should run: the count an operator asked for, else ``default``. Reported at the
        worker's /control, where the platform's autoscaler reads it (docs/deploy.md)."""
        count = self.control.get(WORKERS)
        return int(count) if count is not None else default

    def _read(self) -> bool:
        try:
            found = self.es.get(index=self.store.sync_index, id=self.view, source_includes=[F.CONTROL])
            control = control_of(found["_source"])
        except NotFoundError:
            control = {}
        except (ApiError, TransportError) as exc:
            self.log.warning("operator requests not read", error=str(exc)[:200])
            return False
        self.control, self.seen_at, self.unknown = control, time.monotonic(), False
        return True

    def _active(self) -> bool:
        return bool(self.unknown or self.held or self.paused_by or self.control.get(PAUSE))

    def on_assign(self, partitions: list[TopicPartition]) -> bool:
        """Learns what stands for newly assigned ``partitions``; True: hold them (paused) until the next step (a
        pause, a replay not yet carried out for one of them, or the document unreadable)."""
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self.assigned |= keys
        if not self._read():
            self.unknown = True
            self.held |= keys
            return True
        if self.control.get(PAUSE) or pending_replay(self.control, keys):
            self.held |= keys
            return True
        return False

    def on_revoke(self, partitions: list[TopicPartition]) -> None:
        keys = {(tp.topic, tp.partition) for tp in partitions}
        self.assigned -= keys
        self.held -= keys

    def step(self, consumer: Consumer, replays: ReplayMarks) -> None:
        """Carries out what the view's control field asks of this worker's partitions (between two batches)."""
        if self.store.seen_at > self.seen_at and self.store.seen is not None:
            self.control, self.seen_at = control_of(self.store.seen), self.store.seen_at
        check = self.active_check_s if self._active() else self.idle_check_s
        if time.monotonic() - self.seen_at >= check and not self._read():
            return
        if self.unknown:
            return
        try:
            self._replay(consumer, replays)
            self._pause(consumer)
        except (KafkaException, RetryableError) as exc:  # tried again at the next step
            self.log.warning("operator request not carried out yet", error=str(exc)[:200])

    def _replay(self, consumer: Consumer, replays: ReplayMarks) -> None:
        pending = pending_replay(self.control, self.assigned)
        if not pending:
            return
        request_id = str(self.control[REPLAY][ID])
        moved = [
            TopicPartition(t, p, offset, metadata=replay_mark(until))
            if offset < until
            else TopicPartition(t, p, offset)
            for (t, p), (offset, until) in sorted(pending.items())
        ]
        # Committed first: a partition that moves to another worker from here on is read from the requested offset.
        for tp in consumer.commit(offsets=moved, asynchronous=False) or []:
            if tp.error is not None:
                raise KafkaException(tp.error)
        for (t, p), (offset, until) in pending.items():
            consumer.seek(TopicPartition(t, p, offset))
            if offset < until:
                replays.start((t, p), until)
        partitions = sorted(pending)
        self.store.change(lambda doc: with_acknowledged(doc, REPLAY, request_id, partitions, self.worker))
        self.control = control_of(self.store.seen)
        self.log.info(
            "replay carried out", request=request_id, offsets={partition_key(k): v[0] for k, v in pending.items()}
        )
        self._release(consumer, set(pending))

    def _pause(self, consumer: Consumer) -> None:
        request = self.control.get(PAUSE)
        if not request:
            if self.paused_by is not None:
                self.log.info("resumed", request=self.paused_by)
                self.paused_by = None
                self.resumed = True
            self._release(consumer, set(self.held))
            return
        request_id = str(request[ID])
        if self.assigned:
            consumer.pause([TopicPartition(t, p) for t, p in sorted(self.assigned)])
        self.held |= self.assigned
        done = request.get(PAUSED) or {}
        missing = sorted(p for p in self.assigned if partition_key(p) not in done)
        if missing:
            self.store.change(lambda doc: with_acknowledged(doc, PAUSE, request_id, missing, self.worker))
            self.control = control_of(self.store.seen)
        if self.paused_by != request_id:
            self.paused_by = request_id
            self.log.info("paused", request=request_id, partitions=len(self.assigned))

    def _release(self, consumer: Consumer, partitions: set[Partition]) -> None:
        """Resumes held ``partitions`` that nothing holds any more (no pause stands, no replay pending for them)."""
        if self.control.get(PAUSE):
            return
        free = {p for p in partitions & self.held if p not in pending_replay(self.control, {p})}
        if free:
            consumer.resume([TopicPartition(t, p) for t, p in sorted(free)])
            self.held -= free
