"""The connector config, the publication in the migrations and the views' sources must agree."""

from __future__ import annotations

import json
import os
import re

import pytest

from farmacy.connect import CONNECTORS_DIR, SETTINGS_PLACEHOLDER, load_specs, render, stack_values
from farmacy.settings import ROOT, Settings
from sinks.views import VIEWS

MIGRATION = ROOT / "db" / "migrations" / "versions" / "0001_write_model.py"


def _publication() -> tuple[str, set[str]]:
    match = re.search(r"CREATE PUBLICATION (\w+) FOR TABLE(.*?);", MIGRATION.read_text(), re.S)
    assert match
    return match.group(1), {t.strip() for t in match.group(2).split(",")}


def _publication_tables() -> set[str]:
    return _publication()[1]


def _connector(settings: Settings | None = None) -> dict[str, str]:
    (spec,) = load_specs(settings or Settings(_env_file=None))
    return spec.config


def test_connector_captures_exactly_the_published_tables() -> None:
    assert set(_connector()["table.include.list"].split(",")) == _publication_tables()


def test_every_table_a_view_reads_is_captured() -> None:
    captured = set(_connector()["table.include.list"].split(","))
    for view in VIEWS.values():
        assert set(view.tables) <= captured, view.name


def test_connector_uses_pgoutput_with_the_migrations_publication_and_no_autocreate() -> None:
    c = _connector()
    assert c["plugin.name"] == "pgoutput"
    assert c["publication.name"] == _publication()[0] == "farmacy_views"
    assert c["publication.autocreate.mode"] == "disabled"


def test_stack_specific_values_are_filled_from_settings() -> None:
    settings = Settings(_env_file=None, stack_name="farmacy2")
    (spec,) = load_specs(settings)
    assert spec.name == settings.connector_name == "farmacy2-postgres-source"
    assert spec.config["topic.prefix"] == settings.topic_prefix == "farmacy2"
    assert spec.config["slot.name"] == settings.slot_name == "farmacy2_views"
    # The publication is per database and fixed by the migration: it does not change with the stack.
    assert spec.config["publication.name"] == "farmacy_views"


def test_default_settings_render_the_connector_of_the_running_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("FARMACY_")]:  # the defaults, not a renamed stack's
        monkeypatch.delenv(name)
    (spec,) = load_specs(Settings(_env_file=None))
    assert spec.name == "farmacy-postgres-source"
    assert spec.config["topic.prefix"] == "farmacy"
    assert spec.config["slot.name"] == "farmacy_views"


def test_every_settings_placeholder_in_the_files_is_known_and_none_survives_rendering() -> None:
    known = set(stack_values(Settings(_env_file=None)))
    for path in CONNECTORS_DIR.glob("*.json"):
        assert set(SETTINGS_PLACEHOLDER.findall(path.read_text())) <= known, path
    for spec in load_specs(Settings(_env_file=None)):
        assert not SETTINGS_PLACEHOLDER.search(json.dumps([spec.name, spec.config]))


def test_an_unknown_settings_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        render("${settings:pg_password}", stack_values(Settings(_env_file=None)))


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
    # Partitions come from settings (the sinks add partitions to a capture topic that has fewer, to the same count).
    assert c["topic.creation.default.partitions"] == str(Settings().topic_partitions)
