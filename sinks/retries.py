"""The sink worker's retry policies (tenacity), one per kind of failure; sinks/runner.py applies them.

Every policy waits on the worker's stop event, so a stop never sits out a backoff, and raises Stopping
instead of trying again once the worker is stopping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from confluent_kafka import KafkaException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from sinks.errors import PoisonEventError, RetryableError

MAX_BACKOFF_S = 30.0
# An outage is retried at least this often, so a view is fresh within seconds of its dependency coming back.
MAX_OUTAGE_BACKOFF_S = 5.0
# An outage's backoff doubles at most this many times (and stays under MAX_OUTAGE_BACKOFF_S).
OUTAGE_DOUBLINGS = 8
COMMIT_ATTEMPTS = 5

Hook = Callable[[RetryCallState], None]


class Stopping(InterruptedError):
    """The worker is stopping: no further attempt; what was not applied stays uncommitted."""


def failure(attempt: RetryCallState) -> BaseException:
    """The exception the attempt ended with."""
    assert attempt.outcome is not None and attempt.outcome.failed
    error = attempt.outcome.exception()
    assert error is not None
    return error


@dataclass(frozen=True)
class RetryPolicy:
    stopping: threading.Event
    backoff_s: float
    max_retries: int
    # How to wait between attempts; the runner keeps its consumer polling meanwhile. Default: sleep, unless stopping.
    wait: Callable[[float], None] | None = None

    def through_outages(self, before_sleep: Hook) -> Retrying:
        """Retries a RetryableError for as long as the outage lasts; anything else goes through at once.

        The backoff doubles from twice ``backoff_s``.
        """
        return Retrying(
            retry=retry_if_exception_type(RetryableError),
            wait=wait_exponential(
                multiplier=2 * self.backoff_s, max=min(MAX_OUTAGE_BACKOFF_S, self.backoff_s * 2**OUTAGE_DOUBLINGS)
            ),
            before=self._unless_stopping,
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def bounded(self, after: Hook, retries: int | None = None) -> Retrying:
        """Retries any failure but a poison event ``max_retries`` times, then raises it.

        The same input fails the same way, so a PoisonEventError is raised at once. The backoff
        doubles from ``backoff_s``; ``after`` sees every failed attempt, the last one included.
        """
        return Retrying(
            retry=retry_if_exception_type(Exception) & retry_if_not_exception_type((PoisonEventError, Stopping)),
            stop=stop_after_attempt((self.max_retries if retries is None else retries) + 1),
            wait=wait_exponential(multiplier=self.backoff_s),
            before=self._unless_stopping,
            sleep=self._sleep,
            after=after,
            reraise=True,
        )

    def until_delivered(self, before_sleep: Hook) -> Retrying:
        """Repeats a send while it returns an error (None: delivered), as long as the worker runs.

        The first send goes out even when the worker is already stopping.

        The backoff doubles from ``backoff_s``, capped; once stopping, raises Stopping.
        """
        return Retrying(
            retry=retry_if_result(lambda error: error is not None),
            stop=stop_when_event_set(self.stopping),
            wait=wait_exponential(multiplier=self.backoff_s, max=MAX_BACKOFF_S),
            sleep=self._sleep,
            before_sleep=before_sleep,
            retry_error_callback=_stopped_undelivered,
        )

    def commit(self, before_sleep: Hook) -> Retrying:
        """An offset commit: a few quick tries (a coordinator moving during a broker restart), then give up."""
        return Retrying(
            retry=retry_if_exception_type(KafkaException),
            stop=stop_after_attempt(COMMIT_ATTEMPTS) | stop_when_event_set(self.stopping),
            wait=wait_exponential(multiplier=self.backoff_s, max=2.0),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

    def _sleep(self, seconds: float) -> None:
        if self.wait is not None:
            self.wait(seconds)
        else:
            self.stopping.wait(seconds)

    def _unless_stopping(self, _attempt: RetryCallState) -> None:
        if self.stopping.is_set():
            raise Stopping("stopping")


def _stopped_undelivered(_attempt: RetryCallState) -> NoReturn:
    raise Stopping("stopping before the dead letter was delivered")
