"""The runner's failure policy, with fakes of its own ports (no Kafka, Elasticsearch or PostgreSQL):
outages are retried for as long as they last and never dead-lettered; a poison event is dead-lettered
at once; any other failure gets bounded retries, then only the events that still fail on their own are
dead-lettered; a dead letter counts once Kafka confirmed it; a stop ends every wait."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, cast

import pytest
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE
from confluent_kafka import Message as KafkaMessage
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from sinks.errors import PoisonEventError, RetryableError
from sinks.events import ChangeEvent
from sinks.retries import RetryPolicy
from sinks.runner import Runner, RunnerConfig
from sinks.views.inventory import VIEW as INVENTORY

TOPIC = "farmacy.inventory.locations"
DLQ = "farmacy.dlq.inventory"
BASE_S = 0.2


class Message:
    """What the runner reads of a consumed Kafka record."""

    def __init__(self, offset: int, key: bytes | None = None) -> None:
        self._offset = offset
        self._key = key if key is not None else json.dumps({"id": str(uuid.uuid4())}).encode()

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return json.dumps({"op": "u", "source": {"lsn": 100 + self._offset}}).encode()

    def error(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_NOT_AVAILABLE, 0


class Producer:
    """Records dead letters; ``reports`` scripts the delivery report of each flush (None: delivered;
    "missing": no report at all)."""

    def __init__(self, reports: list[str | None] | None = None) -> None:
        self.reports = list(reports or [])
        self.produced: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self._pending: list[tuple[dict[str, Any], Callable[[object, object], None]]] = []

    def produce(self, topic: str, **kw: Any) -> None:
        record = {"topic": topic, **kw}
        self.produced.append(record)
        self._pending.append((record, kw["on_delivery"]))

    def flush(self, _timeout: float) -> int:
        pending, self._pending = self._pending, []
        for record, on_delivery in pending:
            report = self.reports.pop(0) if self.reports else None
            if report == "missing":
                continue
            if report is None:
                self.delivered.append(record)
            on_delivery(report, None)
        return 0


class Stop(threading.Event):
    """The runner's stop event, recording every backoff instead of sleeping; ``after`` waits, it is set."""

    def __init__(self, after: int | None = None) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.after = after

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        if self.after is not None and len(self.waits) >= self.after:
            self.set()
        return self.is_set()


Script = Callable[[list[ChangeEvent]], None]
Logs = list[MutableMapping[str, Any]]


class ScriptedRunner(Runner):
    """A runner whose rebuild-and-bulk step follows a script instead of reaching the master and Elasticsearch."""

    def __init__(self, script: Script, producer: Producer, stop: Stop, max_retries: int, backoff_s: float) -> None:
        config = RunnerConfig(max_retries=max_retries, retry_backoff_s=backoff_s, dead_letter_topic=DLQ)
        none = cast(Any, None)
        super().__init__(INVENTORY, [TOPIC], none, cast(Any, producer), none, none, config)
        self.stopping = self.stop_event = stop
        self.retries = RetryPolicy(stop, backoff_s, max_retries)
        self.sent = producer
        self.script = script
        self.batches: list[list[int]] = []

    def _apply(self, events: list[ChangeEvent]) -> None:
        self.batches.append([e.offset for e in events])
        self.script(events)


def failing(*errors: Exception | None) -> Script:
    """Raises the given errors on successive calls (None: that call succeeds), then succeeds."""
    queue = list(errors)

    def script(_events: list[ChangeEvent]) -> None:
        if queue and (error := queue.pop(0)) is not None:
            raise error

    return script


def records(*offsets: int | tuple[int, bytes]) -> list[KafkaMessage]:
    return [cast(KafkaMessage, Message(*(o if isinstance(o, tuple) else (o,)))) for o in offsets]


def always(error: Exception) -> Script:
    def script(_events: list[ChangeEvent]) -> None:
        raise error

    return script


def runner(
    script: Script,
    producer: Producer | None = None,
    stop: Stop | None = None,
    max_retries: int = 5,
    backoff_s: float = BASE_S,
) -> ScriptedRunner:
    return ScriptedRunner(script, producer or Producer(), stop or Stop(), max_retries, backoff_s)


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"view": "inventory", **labels}) or 0.0


@pytest.fixture
def logs() -> Iterator[Logs]:
    with capture_logs() as captured:
        yield captured


def events(logs: Logs, name: str) -> Logs:
    return [e for e in logs if e["event"] == name]


# -- outages -------------------------------------------------------------------------------------------
def test_an_outage_is_retried_until_it_passes_and_nothing_is_dead_lettered(logs: Logs) -> None:
    outage = RetryableError("elasticsearch answered 503")
    r = runner(failing(*[outage] * 12))
    retries_before = counter("farmacy_sink_retries_total", kind="outage")
    r.handle(records(0))
    # Backoff doubles from twice the base, capped at 5 s (fresh soon after the outage); far more tries than the bound.
    assert r.stop_event.waits == pytest.approx([0.4, 0.8, 1.6, 3.2, 5, 5, 5, 5, 5, 5, 5, 5])
    assert len(r.batches) == 13 and r.sent.produced == []
    assert counter("farmacy_sink_retries_total", kind="outage") - retries_before == 12
    warnings = events(logs, "dependency unavailable; retrying")
    assert len(warnings) == 12 and warnings[0]["error"] == "elasticsearch answered 503" and warnings[0]["in_s"] == 0.4
    assert events(logs, "recovered") == [
        {"event": "recovered", "after": "elasticsearch answered 503", "log_level": "info", "view": "inventory"}
    ]
    assert r.health()["status"] == "ok" and counter("farmacy_sink_degraded") == 0


def test_the_outage_backoff_stops_doubling_after_eight_doublings() -> None:
    r = runner(failing(*[RetryableError("down")] * 10), backoff_s=0.01)
    r.handle(records(0))
    assert r.stop_event.waits == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 2.56, 2.56])


def test_the_worker_reports_degraded_while_an_outage_lasts() -> None:
    seen: list[dict[str, Any]] = []

    def script(_events: list[ChangeEvent]) -> None:
        seen.append(r.health())
        if len(seen) < 3:
            raise RetryableError("master unavailable: connection refused")

    r = runner(script)
    r.handle(records(0))
    assert [h["status"] for h in seen] == ["ok", "degraded", "degraded"]
    assert seen[1]["degraded"] == "master unavailable: connection refused"
    assert r.health()["status"] == "ok"


def test_outages_do_not_count_towards_the_failure_bound() -> None:
    outage, bug = RetryableError("down"), RuntimeError("bug")
    r = runner(failing(bug, outage, outage, bug, outage, bug, None), max_retries=3)
    r.handle(records(0))
    assert len(r.batches) == 7 and r.sent.produced == []
    # Each outage after a failure backs off from the start again.
    assert r.stop_event.waits == pytest.approx([0.2, 0.4, 0.8, 0.4, 0.4, 0.8])


# -- poison and failures -------------------------------------------------------------------------------
def test_a_poison_event_is_dead_lettered_without_retries(logs: Logs) -> None:
    producer = Producer()
    r = runner(always(PoisonEventError("documents rejected: {...}")), producer)
    r.handle(records(7))
    assert r.batches == [[7]]  # an event on its own fails the same way again: no second try
    assert r.stop_event.waits == []
    [letter] = producer.delivered
    headers = dict(letter["headers"])
    assert letter["topic"] == DLQ and headers["dlq.offset"] == "7" and headers["dlq.error.class"] == "PoisonEventError"
    assert len(events(logs, "poison in batch")) == 1 and len(events(logs, "event dead-lettered")) == 1


def test_an_unparseable_record_is_dead_lettered_before_any_apply() -> None:
    producer = Producer()
    r = runner(failing(), producer)
    r.handle(records((3, b"\x00not json"), 4))
    assert r.batches == [[4]]
    assert [dict(p["headers"])["dlq.offset"] for p in producer.delivered] == ["3"]


def test_a_failing_batch_gets_bounded_retries_then_only_the_failing_event_is_dead_lettered(
    logs: Logs,
) -> None:
    def script(events: list[ChangeEvent]) -> None:
        if any(e.offset == 2 for e in events):
            raise ValueError("unexpected answer")

    producer = Producer()
    r = runner(script, producer, max_retries=5)
    failures_before = counter("farmacy_sink_retries_total", kind="failure")
    dead_before = counter("farmacy_sink_dead_letters_total")
    r.handle(records(1, 2, 3))
    # 1 + 5 tries of the batch, then halves (one try each) down to single events (1 + 5 tries each): 1 and 3
    # pass, 2 fails every time.
    assert r.batches == [[1, 2, 3]] * 6 + [[1]] + [[2, 3]] + [[2]] * 6 + [[3]]
    assert r.stop_event.waits == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2] * 2)
    assert [dict(p["headers"])["dlq.offset"] for p in producer.delivered] == ["2"]
    assert dict(producer.delivered[0]["headers"])["dlq.error"] == "unexpected answer"
    assert counter("farmacy_sink_retries_total", kind="failure") - failures_before == 13
    assert counter("farmacy_sink_dead_letters_total") - dead_before == 1
    assert r.health()["dead_letters"] == 1
    failed = events(logs, "batch failed")
    assert [f["attempt"] for f in failed] == [1, 2, 3, 4, 5, 6, 1, 1, 2, 3, 4, 5, 6]
    assert failed[0]["events"] == 3 and failed[0]["first"] == f"{TOPIC}[0]@1"
    assert failed[0]["error"] == "ValueError: unexpected answer"
    assert len(events(logs, "batch keeps failing; splitting it to find the failing events")) == 2


def test_no_retries_when_the_bound_is_zero() -> None:
    producer = Producer()
    r = runner(failing(RuntimeError("bug"), RuntimeError("bug")), producer, max_retries=0)
    r.handle(records(0))
    assert r.batches == [[0]] and r.stop_event.waits == []
    assert len(producer.delivered) == 1


def test_a_failure_that_passes_on_a_retry_is_not_dead_lettered() -> None:
    producer = Producer()
    r = runner(failing(RuntimeError("flaky"), RuntimeError("flaky")), producer)
    r.handle(records(0))
    assert len(r.batches) == 3 and producer.produced == []


# -- dead letters --------------------------------------------------------------------------------------
def test_a_dead_letter_is_retried_until_kafka_confirms_it_and_counted_once(logs: Logs) -> None:
    producer = Producer(["Broker: not enough replicas", "missing", *["timed out"] * 7, None])
    r = runner(always(PoisonEventError("bad")), producer)
    r.handle(records(0))
    assert len(producer.produced) == 10 and len(producer.delivered) == 1
    assert r.stop_event.waits == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30])
    assert r.health()["dead_letters"] == 1
    retried = events(logs, "dead letter not delivered; retrying")
    assert [w["error"] for w in retried[:3]] == [
        "Broker: not enough replicas",
        "no delivery report within 30s",
        "timed out",
    ]
    assert retried[0]["topic"] == DLQ


# -- stopping ------------------------------------------------------------------------------------------
def test_a_stop_ends_an_outage_wait_without_dead_lettering() -> None:
    producer = Producer()
    r = runner(failing(*[RetryableError("down")] * 100), producer, Stop(after=3))
    with pytest.raises(InterruptedError):
        r.handle(records(0))
    assert len(r.batches) == 3 and producer.produced == []


def test_a_stop_ends_the_bounded_retries_without_dead_lettering() -> None:
    producer = Producer()
    r = runner(failing(*[RuntimeError("bug")] * 100), producer, Stop(after=2))
    with pytest.raises(InterruptedError):
        r.handle(records(0))
    assert len(r.batches) == 2 and producer.produced == []


def test_no_batch_is_tried_once_the_worker_is_stopping() -> None:
    stop = Stop()
    stop.set()
    r = runner(failing(), stop=stop)
    with pytest.raises(InterruptedError):
        r.handle(records(0))
    assert r.batches == []


def test_a_stop_ends_the_dead_letter_retries_uncounted() -> None:
    producer = Producer(["timed out"] * 100)
    r = runner(always(PoisonEventError("bad")), producer, Stop(after=2))
    with pytest.raises(InterruptedError, match="dead letter"):
        r.handle(records(0))
    assert len(producer.produced) == 3 and producer.delivered == [] and r.health()["dead_letters"] == 0


# -- isolating a failure in a big batch, and staying in the group meanwhile -------------------------------
def test_one_failing_event_in_500_costs_a_few_dozen_tries_not_500_retry_budgets() -> None:
    """Applying a failing batch event by event took one retry budget per event (500 x ~6 s backoff: ~50 min,
    far past max.poll.interval.ms). Splitting in halves finds the one failing event in about 2 x log2(500)."""

    def script(events: list[ChangeEvent]) -> None:
        if any(e.offset == 250 for e in events):
            raise ValueError("unexpected answer")

    producer = Producer()
    r = runner(script, producer, max_retries=5)
    r.handle(records(*range(500)))
    assert [dict(p["headers"])["dlq.offset"] for p in producer.delivered] == ["250"]
    assert len(r.batches) <= 6 + 2 * 9 + 6  # the batch's budget, ~2 tries per level, the single event's budget
    assert sum(r.stop_event.waits) == pytest.approx(2 * sum([0.2, 0.4, 0.8, 1.6, 3.2]))
    applied = sorted(o for batch in r.batches if 250 not in batch for o in batch)
    assert applied == [o for o in range(500) if o != 250]  # every other event applied exactly once


class PausingConsumer:
    """The consumer calls a waiting runner makes: pause, poll (serving the group), resume."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.paused: set[tuple[str, int]] = set()

    def assignment(self) -> list[Any]:
        from confluent_kafka import TopicPartition

        return [TopicPartition(TOPIC, 0)]

    def pause(self, partitions: list[Any]) -> None:
        self.calls.append("pause")
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[Any]) -> None:
        self.calls.append("resume")
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def poll(self, timeout: float) -> None:
        self.calls.append("poll")


def test_a_retry_waits_with_partitions_paused_while_polling_so_the_group_keeps_the_worker() -> None:
    r = runner(failing(RuntimeError("flaky")), backoff_s=0.05)
    consumer = PausingConsumer()
    r.consumer = cast(Any, consumer)
    r.retries = RetryPolicy(threading.Event(), 0.05, 5, wait=r._wait_polling)
    r.handle(records(0))
    assert len(r.batches) == 2
    assert consumer.calls[0] == "pause" and consumer.calls[-1] == "resume" and "poll" in consumer.calls
    assert consumer.paused == set()


# -- a deploy that bumped the mapping version --------------------------------------------------------------
class Indices:
    def __init__(self, version: int) -> None:
        self.version = version

    def get_mapping(self, index: str) -> Any:
        body = {f"{index}-v{self.version}": {"mappings": {"_meta": {"index_version": self.version}}}}
        return type("Response", (), {"body": body})()


@pytest.mark.parametrize("behind", [1, 2])
def test_an_index_of_an_older_mapping_version_is_a_deploy_error_not_poison(behind: int) -> None:
    from sinks.errors import DeployError

    r = runner(failing())
    r.es = cast(Any, type("Es", (), {"indices": Indices(INVENTORY.index_version - behind)})())
    with pytest.raises(DeployError, match=f"run `farmacy rollout {INVENTORY.name}`"):
        r._check_index_version()


def test_an_index_of_the_current_mapping_version_is_written() -> None:
    r = runner(failing())
    r.es = cast(Any, type("Es", (), {"indices": Indices(INVENTORY.index_version)})())
    r._check_index_version()  # no error


# -- holds ----------------------------------------------------------------------------------------------------
class Holds:
    """The watermark's hold bookkeeping, in memory."""

    def __init__(self, holds: dict[str, int] | None = None) -> None:
        self.holds = dict(holds or {})

    def hold(self, at: str, lsn: int | None) -> None:
        self.holds[at] = lsn if lsn is not None else 1

    def release(self, at: str) -> bool:
        return self.holds.pop(at, None) is not None


def test_a_dead_letter_holds_the_view_at_its_position() -> None:
    r = runner(always(PoisonEventError("documents rejected")))
    r.watermark = cast(Any, Holds())
    r.handle(records(5))
    assert r.watermark.holds == {f"{TOPIC}[0]@5": 105}  # Message's lsn is 100 + offset


def test_a_held_change_applied_later_releases_its_hold() -> None:
    """A change dead-lettered before (or whose dead letter never got out) that now applies, on a replay or after a
    restart, releases its hold: nothing else could."""
    r = runner(failing())
    r.watermark = cast(Any, Holds({f"{TOPIC}[0]@5": 105, f"{TOPIC}[0]@9": 109}))
    r.handle(records(5))
    assert r.watermark.holds == {f"{TOPIC}[0]@9": 109}


def test_a_replayed_poison_event_is_not_recorded_twice() -> None:
    producer = Producer()
    r = runner(always(PoisonEventError("documents rejected")), producer)
    r.dead_lettered = {f"{TOPIC}[0]@5"}
    r.handle(records(5))
    assert producer.produced == []


# -- an offset commit the group refuses ------------------------------------------------------------------------
class RefusingConsumer:
    """A consumer whose commits the group refuses (a rebalance took the generation away)."""

    def __init__(self) -> None:
        self.seeks: list[tuple[str, int, int]] = []

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        from confluent_kafka import KafkaError, KafkaException

        raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION))

    def seek(self, partition: Any) -> None:
        self.seeks.append((partition.topic, partition.partition, partition.offset))


def test_a_refused_commit_reads_the_batch_again_from_its_first_offset() -> None:
    # With cooperative rebalancing the worker may keep its partitions, its fetch position already past the batch:
    # unless it goes back, those offsets are never committed and the view's position stops at them.
    r = runner(failing())
    consumer = RefusingConsumer()
    r.consumer = cast(Any, consumer)
    r._commit(records(7, 8, 9))
    assert consumer.seeks == [(TOPIC, 0, 7)]
