"""Capture on the real engines: slot, publication, replica identity, connector state."""

from __future__ import annotations

import psycopg
import pytest

from farmacy.connect import ConnectClient, load_specs
from farmacy.settings import Settings

pytestmark = pytest.mark.integration


def test_connector_and_its_task_are_running(stack: Settings) -> None:
    client = ConnectClient(stack.connect_urls)
    try:
        for spec in load_specs(stack):
            status = client.status(spec.name)
            assert status is not None
            assert status["connector"]["state"] == "RUNNING"
            assert [t["state"] for t in status["tasks"]] == ["RUNNING"]
    finally:
        client.close()


def test_replication_slot_is_pgoutput_and_active(stack: Settings) -> None:
    with psycopg.connect(stack.pg_dsn) as conn:
        row = conn.execute(
            "SELECT plugin, active FROM pg_replication_slots WHERE slot_name = %s", (stack.slot_name,)
        ).fetchone()
    assert row == ("pgoutput", True)


def test_every_published_table_has_a_primary_key_and_the_replica_identity_its_views_need(stack: Settings) -> None:
    """Default (the primary key) everywhere, but FULL where a view reads part of a row (``reads``) and skips updates
    that leave it as it was: those need the old row in the event."""
    from sinks.views import VIEWS

    full = {
        table
        for view in VIEWS.values()
        for documents in view.documents
        for table, source in documents.sources.items()
        if source.reads is not None
    }
    assert full == {"inventory.stock"}
    with psycopg.connect(stack.pg_dsn) as conn:
        rows = conn.execute("""
            SELECT p.schemaname || '.' || p.tablename, c.relreplident,
                   EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
            FROM pg_publication_tables p
            JOIN pg_class c ON c.relname = p.tablename
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
            WHERE p.pubname = 'farmacy_views'""").fetchall()
    assert len(rows) == 10
    for table, identity, has_pk in rows:
        assert has_pk, table
        assert identity == ("f" if table in full else "d"), table


def test_every_topic_a_view_reads_exists_and_is_compacted(stack: Settings) -> None:
    from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

    from sinks.views import VIEWS

    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    existing = admin.list_topics(timeout=10).topics
    needed = {stack.topic(*t.split(".")) for v in VIEWS.values() for t in v.tables}
    assert needed <= set(existing), needed - set(existing)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, t) for t in sorted(needed)]
    for resource, future in admin.describe_configs(resources).items():
        assert future.result()["cleanup.policy"].value == "compact", resource.name


def test_the_transaction_topic_has_one_partition_and_is_deleted_after_an_hour(stack: Settings) -> None:
    """Transaction metadata (BEGIN/END records) is there for its source offsets, which confirm each commit on the
    slot; nothing reads it, and its keys are unique, so compaction would keep it forever."""
    from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": stack.kafka_bootstrap})
    topic = f"{stack.topic_prefix}.transaction"
    metadata = admin.list_topics(timeout=10).topics
    assert topic in metadata, "no transaction metadata: a commit would wait for the next heartbeat to be confirmed"
    assert len(metadata[topic].partitions) == 1
    config = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    values = next(iter(config.values())).result()
    assert (values["cleanup.policy"].value, values["retention.ms"].value) == ("delete", "3600000")


def test_the_publication_lists_tables_not_columns_so_a_new_column_is_captured_without_a_change(
    stack: Settings,
) -> None:
    """A column list (PostgreSQL 15+) would leave a column added by a migration out of the change events until the
    publication was altered too; the view-change workflow (docs/changing-a-view.md) relies on there being none."""
    with psycopg.connect(stack.pg_dsn) as conn:
        with_lists = conn.execute("""
            SELECT r.prrelid::regclass::text FROM pg_publication_rel r
            JOIN pg_publication p ON p.oid = r.prpubid
            WHERE p.pubname = 'farmacy_views' AND r.prattrs IS NOT NULL""").fetchall()
        actions = conn.execute(
            "SELECT pubinsert, pubupdate, pubdelete FROM pg_publication WHERE pubname = 'farmacy_views'"
        ).fetchone()
    assert with_lists == []
    assert actions == (True, True, True)
