"""The connector config, the publication in the migrations and the views' sources must agree."""

from __future__ import annotations

import re

from farmacy.connect import load_specs
from farmacy.settings import ROOT
from sinks.views import VIEWS


def _publication_tables() -> set[str]:
    sql = (ROOT / "db" / "migrations" / "versions" / "0001_write_model.py").read_text()
    match = re.search(r"CREATE PUBLICATION farmacy_views FOR TABLE(.*?);", sql, re.S)
    assert match
    return {t.strip() for t in match.group(1).split(",")}


def _connector() -> dict[str, str]:
    (spec,) = load_specs()
    return spec.config


def test_connector_captures_exactly_the_published_tables() -> None:
    assert set(_connector()["table.include.list"].split(",")) == _publication_tables()


def test_every_table_a_view_reads_is_captured() -> None:
    captured = set(_connector()["table.include.list"].split(","))
    for view in VIEWS.values():
        assert set(view.sources) <= captured, view.name


def test_connector_uses_pgoutput_with_the_migrations_publication_and_no_autocreate() -> None:
    c = _connector()
    assert c["plugin.name"] == "pgoutput"
    assert c["publication.name"] == "farmacy_views"
    assert c["publication.autocreate.mode"] == "disabled"


def test_topics_are_compacted_and_deletes_emit_tombstones() -> None:
    c = _connector()
    assert c["topic.creation.default.cleanup.policy"] == "compact"
    assert c["tombstones.on.delete"] == "true"


def test_heartbeats_and_signaling_table_are_configured() -> None:
    c = _connector()
    assert int(c["heartbeat.interval.ms"]) > 0
    assert "platform.heartbeat" in c["heartbeat.action.query"]
    assert c["signal.data.collection"] == "platform.debezium_signal"
    assert "source" in c["signal.enabled.channels"].split(",")


def test_credentials_come_from_a_config_provider_not_the_file() -> None:
    c = _connector()
    for key in ("database.hostname", "database.user", "database.password"):
        assert c[key].startswith("${file:"), key


def test_sinks_pre_create_table_topics_as_the_connector_would() -> None:
    from sinks.bootstrap import CAPTURE_TOPIC_CONFIG

    c = _connector()
    assert {
        "cleanup.policy": c["topic.creation.default.cleanup.policy"],
        "min.compaction.lag.ms": c["topic.creation.default.min.compaction.lag.ms"],
    } == CAPTURE_TOPIC_CONFIG
    assert c["topic.creation.default.partitions"] == "1"
