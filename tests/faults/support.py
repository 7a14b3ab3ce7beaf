"""What every fault test checks after its fault: nothing dead-lettered that should not be, nothing stale, no drift."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from farmacy.settings import Settings
from ops.reconcile import reconcile
from ops.status import topic_ends
from sinks.bootstrap import dead_letter_topic, read_pool
from sinks.views import VIEWS


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Records ever written to each view's dead-letter topic."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    ends = topic_ends(admin, [dead_letter_topic(settings, v) for v in settings.views])
    return {v: ends[dead_letter_topic(settings, v)] for v in settings.views}


def drift(settings: Settings, es: Elasticsearch, views: list[str] | None = None) -> dict[str, int]:
    """Missing + extra + different documents per view, against the master."""
    with read_pool(settings, "fault-check") as pool:
        return {name: reconcile(pool, es, VIEWS[name]).total for name in views or list(settings.views)}
