"""The partitions assigned to a sink worker now, kept by the rebalance callbacks, and the records of a batch that
belong to them.

A rebalance's callbacks run inside the poll that gathers a batch, so a batch can hold records of a partition revoked
meanwhile. Their new owner reads them from the group's committed offset; applying them here would be harmless, but
committing them could move that offset back below what the new owner has committed, and a view's position waits on
the committed offsets of partitions other workers own (sinks/watermark.py).
"""

from __future__ import annotations

import structlog
from confluent_kafka import Message, TopicPartition

Partition = tuple[str, int]


class Assignment:
    def __init__(self, log: structlog.stdlib.BoundLogger) -> None:
        self.log = log
        self.partitions: set[Partition] = set()

    def add(self, partitions: list[TopicPartition]) -> None:
        self.partitions |= {(tp.topic, tp.partition) for tp in partitions}

    def remove(self, partitions: list[TopicPartition]) -> None:
        self.partitions -= {(tp.topic, tp.partition) for tp in partitions}

    def keep(self, records: list[Message]) -> list[Message]:
        """The records of partitions still assigned; the others are left to their new owner."""
        kept = [m for m in records if (m.topic(), m.partition()) in self.partitions]
        if len(kept) < len(records):
            self.log.info("records of revoked partitions left to their new owner", records=len(records) - len(kept))
        return kept
