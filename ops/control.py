"""Asking a view's running workers to replay, pause and resume, and how many of them to run (ops).

The requests go into the ``control`` field of the view's sync document and the workers carry them out themselves
(sinks/control.py), so replay, blue/green rebuild and scale work the same wherever the workers run: supervisord,
compose or Kubernetes, with no call to any of them. When the view's consumer group has no member at all, nobody
would carry a replay out: the group's offsets are then moved directly (Kafka allows that for an empty group).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch, NotFoundError

from farmacy.settings import Settings
from sinks.control import (
    DONE,
    ID,
    PAUSE,
    PAUSED,
    REPLAY,
    WORKERS,
    control_of,
    pause_request,
    replay_request,
    with_acknowledged,
    with_control,
)
from sinks.replay_marks import parse_mark
from sinks.sync_document import partition_key, partition_of
from sinks.sync_store import SyncStore
from sinks.views import VIEWS

POLL_S = 0.5
REQUEST_TIMEOUT_S = 120.0


class RequestNotCarriedOut(RuntimeError):
    """The view's workers did not carry the request out in time (or another request replaced it)."""


def view_partitions(settings: Settings, admin: AdminClient, view: str, redrive: bool = False) -> list[TopicPartition]:
    """Every partition of every (existing) topic the view reads (with its re-drive topic's: ``redrive``)."""
    topics = [settings.topic(*t.split(".")) for t in VIEWS[view].tables]
    if redrive:
        topics.append(settings.redrive_topic(view))
    metadata = admin.list_topics(timeout=10).topics
    return [TopicPartition(t, p) for t in topics if t in metadata for p in sorted(metadata[t].partitions)]


def group_has_members(settings: Settings, admin: AdminClient, view: str) -> bool:
    group = settings.sink_group_id(view)
    described = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    return bool(described.members)


def _store(settings: Settings, es: Elasticsearch, view: str) -> SyncStore:
    return SyncStore(es, settings.sync_index, view)


def read_control(settings: Settings, es: Elasticsearch, view: str) -> dict[str, Any]:
    try:
        return control_of(es.get(index=settings.sync_index, id=view)["_source"])
    except NotFoundError:
        return {}


def request_replay(
    settings: Settings,
    es: Elasticsearch,
    admin: AdminClient,
    view: str,
    targets: list[TopicPartition],
    timeout: float = REQUEST_TIMEOUT_S,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Has the view's workers move its group's offsets to ``targets`` (each with its replay mark as metadata), and
    returns once every partition of them is there. Raises RequestNotCarriedOut after ``timeout``."""
    offsets = {partition_key((tp.topic, tp.partition)): int(tp.offset) for tp in targets}
    until = {
        partition_key((tp.topic, tp.partition)): mark for tp in targets if (mark := parse_mark(tp.metadata)) is not None
    }
    request = replay_request(offsets, until)
    _store(settings, es, view).change(lambda doc: with_control(doc, view, {REPLAY: request}))
    deadline = time.monotonic() + timeout
    while True:
        standing = read_control(settings, es, view).get(REPLAY) or {}
        if standing.get(ID) != request[ID]:
            raise RequestNotCarriedOut(f"the replay of {view} was replaced by another request")
        missing = {k: v for k, v in offsets.items() if k not in (standing.get(DONE) or {})}
        if progress is not None:
            progress(len(offsets) - len(missing), len(offsets))
        if not missing:
            return
        if not group_has_members(settings, admin, view) and _move_empty_group(settings, admin, view, targets, missing):
            moved = [partition_of(k) for k in missing]
            _store(settings, es, view).change(
                partial(with_acknowledged, kind=REPLAY, request_id=request[ID], partitions=moved, worker="ops")
            )
            continue
        if time.monotonic() >= deadline:
            raise RequestNotCarriedOut(
                f"the workers of {view} did not replay {', '.join(sorted(missing))} in {timeout:.0f}s"
            )
        time.sleep(POLL_S)


def _move_empty_group(
    settings: Settings, admin: AdminClient, view: str, targets: list[TopicPartition], missing: dict[str, int]
) -> bool:
    """Moves the offsets of a group with no members (False when one joined meanwhile: it carries them out)."""
    moving = [tp for tp in targets if partition_key((tp.topic, tp.partition)) in missing]
    request = ConsumerGroupTopicPartitions(settings.sink_group_id(view), moving)
    try:
        next(iter(admin.alter_consumer_group_offsets([request]).values())).result()
    except KafkaException:
        return False
    return True


def pause_workers(
    settings: Settings, es: Elasticsearch, admin: AdminClient, view: str, timeout: float = REQUEST_TIMEOUT_S
) -> str:
    """Has every worker of the view pause its partitions between two batches, and returns (the request's id) once
    every partition of the view's topics is paused, or the group has no members (a worker that joins while the
    pause stands pauses before its first batch). Raises RequestNotCarriedOut (the pause withdrawn) after
    ``timeout``."""
    request = pause_request()
    _store(settings, es, view).change(lambda doc: with_control(doc, view, {PAUSE: request}))
    expected = {partition_key((tp.topic, tp.partition)) for tp in view_partitions(settings, admin, view, redrive=True)}
    deadline = time.monotonic() + timeout
    while True:
        standing = read_control(settings, es, view).get(PAUSE) or {}
        if standing.get(ID) != request[ID]:
            raise RequestNotCarriedOut(f"the pause of {view} was replaced by another request")
        if expected <= set(standing.get(PAUSED) or {}) or not group_has_members(settings, admin, view):
            return str(request[ID])
        if time.monotonic() >= deadline:
            resume_workers(settings, es, view, str(request[ID]))
            missing = sorted(expected - set(standing.get(PAUSED) or {}))
            raise RequestNotCarriedOut(f"the workers of {view} did not pause {', '.join(missing)} in {timeout:.0f}s")
        time.sleep(POLL_S)


def resume_workers(settings: Settings, es: Elasticsearch, view: str, request_id: str) -> None:
    """Withdraws the pause ``request_id`` (the workers resume at their next look at the document)."""

    def withdrawn(doc: dict[str, Any]) -> dict[str, Any]:
        if (control_of(doc).get(PAUSE) or {}).get(ID) != request_id:
            return doc
        return with_control(doc, view, {PAUSE: None})

    _store(settings, es, view).change(withdrawn)


def set_worker_count(settings: Settings, es: Elasticsearch, view: str, count: int) -> None:
    """Records how many workers the view should run (docs/deploy.md: who honours it where)."""
    settings.check_worker_count(view, count)
    _store(settings, es, view).change(lambda doc: with_control(doc, view, {WORKERS: count}))


def worker_count(settings: Settings, es: Elasticsearch, view: str) -> int | None:
    """The count ``set_worker_count`` recorded for the view, if any."""
    count = read_control(settings, es, view).get(WORKERS)
    return int(count) if count is not None else None


class WorkersPause:
    """``pause`` then ``resume`` a view's workers (what a blue/green rebuild needs: ops/bluegreen.py)."""

    def __init__(self, settings: Settings, es: Elasticsearch, view: str, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.settings, self.es, self.view, self.timeout = settings, es, view, timeout
        self._request: str | None = None

    def pause(self) -> None:
        admin = AdminClient({"bootstrap.servers": self.settings.kafka_bootstrap})
        self._request = pause_workers(self.settings, self.es, admin, self.view, self.timeout)

    def resume(self) -> None:
        if self._request is not None:
            resume_workers(self.settings, self.es, self.view, self._request)
            self._request = None
