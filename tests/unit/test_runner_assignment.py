"""A batch gathered across a rebalance keeps only the records of partitions still assigned (sinks/assignment.py):
the new owner of a revoked partition reads its records from the group's committed offset, and a commit of them by
the previous owner could move that offset back below the new owner's."""

from __future__ import annotations

from typing import Any, cast

from confluent_kafka import Message, TopicPartition

from sinks.runner import Runner, RunnerConfig
from sinks.views.inventory import VIEW as INVENTORY

TOPIC = "farmacy.inventory.stock"


class Record:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


def _runner() -> Runner:
    none = cast(Any, None)
    return Runner(INVENTORY, [TOPIC], none, none, none, none, RunnerConfig())


def test_records_of_a_partition_revoked_while_the_batch_was_gathered_are_left_out() -> None:
    runner = _runner()
    runner.assignment.add([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])
    runner._on_revoke(cast(Any, None), [TopicPartition(TOPIC, 1)])
    batch = cast(list[Message], [Record(0, 5), Record(1, 7), Record(0, 6), Record(1, 8)])
    kept = runner.assignment.keep(batch)
    assert [(m.partition(), m.offset()) for m in kept] == [(0, 5), (0, 6)]


def test_a_batch_of_assigned_partitions_is_kept_whole() -> None:
    runner = _runner()
    runner.assignment.add([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)])
    batch = cast(list[Message], [Record(0, 5), Record(1, 7)])
    assert runner.assignment.keep(batch) == batch
