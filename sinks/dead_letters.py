"""Dead letters: producing the record of a change that cannot be applied, and waiting until Kafka has it.

An event that fails on its own (poison, or a failure that outlasted the bounded retries; sinks/runner.py decides)
goes to the view's dead-letter topic with its error and its source coordinates in headers. It counts as
dead-lettered only once Kafka confirmed the delivery (a lost dead letter is a lost event), so the send is repeated
until it is, for as long as the worker runs. A record too large to copy with the dead-letter headers goes without
its payload: its key and coordinates are what a re-drive needs (roots are rebuilt from the master).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import structlog
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from tenacity import RetryCallState

from sinks.retries import RetryPolicy

Headers = list[tuple[str, str | bytes | None]]


def dead_letter_headers(view: str, origin: tuple[str, int, int], lsn: int | None, error: Exception) -> Headers:
    """What a dead letter says of itself: its view, where its change was first read, its position, the error."""
    return [
        ("dlq.view", view),
        ("dlq.topic", origin[0]),
        ("dlq.partition", str(origin[1])),
        ("dlq.offset", str(origin[2])),
        ("dlq.lsn", str(lsn) if lsn is not None else ""),
        ("dlq.error.class", type(error).__name__),
        ("dlq.error", str(error)[:2000]),
        ("dlq.failed_at", datetime.now(UTC).isoformat()),
    ]


def deliver(
    producer: Producer,
    topic: str,
    msg: Message,
    headers: Headers,
    retries: RetryPolicy,
    log: structlog.stdlib.BoundLogger,
) -> None:
    """Sends the dead letter of ``msg`` until Kafka confirmed its delivery (raises Stopping if the worker stops
    first)."""
    retries.until_delivered(before_sleep=partial(_on_undelivered, log, topic))(
        send_dead_letter, producer, topic, msg, headers
    )


def send_dead_letter(producer: Producer, topic: str, msg: Message, headers: Headers) -> str | None:
    """Produces the dead letter and waits for its delivery report; returns None once delivered, else why not.

    A record too large to copy with the dead-letter headers goes without its payload (its key and coordinates
    are what a re-drive needs: roots are rebuilt from the master)."""
    value = msg.value()
    for attempt in ("whole", "without payload"):
        reports: list[KafkaError | None] = []
        try:
            producer.produce(topic, key=msg.key(), value=value, headers=headers, on_delivery=partial(_report, reports))
        except (BufferError, KafkaException) as exc:
            if attempt == "whole" and _too_large(exc):
                value, headers = None, [*headers, ("dlq.payload", "dropped: too large to dead-letter")]
                continue
            return f"{type(exc).__name__}: {exc}"
        producer.flush(30)
        if not reports:
            return "no delivery report within 30s"
        if reports[0] is None:
            return None
        if attempt == "whole" and _too_large(KafkaException(reports[0])):
            value, headers = None, [*headers, ("dlq.payload", "dropped: too large to dead-letter")]
            continue
        return str(reports[0])
    return "not delivered"


def _on_undelivered(log: structlog.stdlib.BoundLogger, topic: str, attempt: RetryCallState) -> None:
    assert attempt.outcome is not None
    log.warning("dead letter not delivered; retrying", topic=topic, error=attempt.outcome.result())


def _report(reports: list[KafkaError | None], err: KafkaError | None, _msg: object) -> None:
    reports.append(err)


def _too_large(exc: BaseException) -> bool:
    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() == KafkaError.MSG_SIZE_TOO_LARGE
