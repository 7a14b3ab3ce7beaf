from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError
from sqlalchemy import make_url

from farmacy.settings import LOCAL_JWT_SECRET, Settings
from farmacy.views import VIEW_NAMES
from sinks.bootstrap import dead_letter_topic, group_id
from stack.layout import Layout
from stack.versions import load_versions


def test_local_mode_accepts_the_local_placeholder_secrets() -> None:
    assert Settings(mode="local").jwt_secret.get_secret_value() == LOCAL_JWT_SECRET


def test_production_refuses_placeholder_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="FARMACY_JWT_SECRET"):
        Settings(mode="production", pg_password="a-real-database-password")


def test_production_refuses_placeholder_database_password() -> None:
    with pytest.raises(ValidationError, match="FARMACY_PG_PASSWORD"):
        Settings(mode="production", jwt_secret="x" * 40)


PRODUCTION_ISSUER: dict[str, Any] = {
    "oidc_issuer": "https://id.example.com",
    "oidc_jwks_url": "https://id.example.com/keys",
}


def test_production_accepts_real_secrets() -> None:
    s = Settings(mode="production", jwt_secret="x" * 40, pg_password="a-real-database-password", **PRODUCTION_ISSUER)
    assert s.mode == "production"


def test_kafka_cluster_ids_never_start_with_a_dash() -> None:
    from stack.render import kafka_cluster_id

    ids = [kafka_cluster_id() for _ in range(2000)]  # ~1 in 64 raw ids would start with '-'
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 22 for i in ids)


# Addresses and cluster-level names (docs/two-stacks.md): DSNs built by the libraries, URLs derived from host and
# port, every name shared with nobody derived from stack_name.

TRICKY_PASSWORD = "p@ss w'ord\"/:?#%\\"


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.usefixtures("clean_env")
def test_a_password_with_at_space_and_quotes_survives_the_libpq_dsn() -> None:
    s = _settings(pg_password=TRICKY_PASSWORD, pg_port=6442)
    parsed = conninfo_to_dict(s.pg_dsn)
    assert parsed["password"] == TRICKY_PASSWORD
    assert (parsed["host"], parsed["port"], parsed["dbname"], parsed["user"]) == (
        "127.0.0.1",
        "6442",
        "farmacy",
        "farmacy",
    )


@pytest.mark.usefixtures("clean_env")
def test_a_password_with_at_space_and_quotes_survives_the_sqlalchemy_url() -> None:
    url = _settings(pg_password=TRICKY_PASSWORD, pg_port=6442).sqlalchemy_url
    assert url.password == TRICKY_PASSWORD
    again = make_url(url.render_as_string(hide_password=False))
    assert (again.drivername, again.username, again.password) == ("postgresql+psycopg", "farmacy", TRICKY_PASSWORD)
    assert (again.host, again.port, again.database) == ("127.0.0.1", 6442, "farmacy")


@pytest.mark.usefixtures("clean_env")
def test_the_connect_secrets_file_keeps_the_password_as_java_properties_read_it() -> None:
    from stack.render import postgres_secrets

    lines = postgres_secrets(_settings(pg_capture_password=" lead\\back\nline")).splitlines()
    assert "password=\\ lead\\\\back\\nline" in lines


@pytest.mark.parametrize(
    ("port_field", "derived_field", "expected"),
    [
        ("kafka_port", "kafka_bootstrap", "127.0.0.1:10092"),
        ("connect_port", "connect_url", "http://127.0.0.1:10083"),
        ("elasticsearch_port", "elasticsearch_url", "http://127.0.0.1:10200"),
    ],
)
@pytest.mark.usefixtures("clean_env")
def test_changing_a_port_alone_changes_the_derived_address(
    monkeypatch: pytest.MonkeyPatch, port_field: str, derived_field: str, expected: str
) -> None:
    port = int(expected.rsplit(":", 1)[1])
    assert getattr(_settings(**{port_field: port}), derived_field) == expected
    monkeypatch.setenv(f"FARMACY_{port_field.upper()}", str(port))
    assert getattr(_settings(), derived_field) == expected


@pytest.mark.usefixtures("clean_env")
def test_an_explicit_address_wins_over_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARMACY_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("FARMACY_CONNECT_URL", "http://connect:8083")
    monkeypatch.setenv("FARMACY_ELASTICSEARCH_URL", "http://elasticsearch:9200")
    s = _settings(kafka_port=1, connect_port=2, elasticsearch_port=3)
    assert (s.kafka_bootstrap, s.connect_url, s.elasticsearch_url) == (
        "kafka:9092",
        "http://connect:8083",
        "http://elasticsearch:9200",
    )


@pytest.mark.usefixtures("clean_env")
def test_addresses_follow_their_hosts() -> None:
    s = _settings(kafka_host="::1", connect_host="connect", elasticsearch_host="es.internal")
    assert (s.kafka_bootstrap, s.connect_url, s.elasticsearch_url) == (
        "[::1]:9092",
        "http://connect:8083",
        "http://es.internal:9200",
    )


def _cluster_names(s: Settings) -> dict[str, str]:
    """Every name that two stacks on one machine must not share."""
    from farmacy.connect import load_specs
    from stack.render import connect_properties, elasticsearch_nodes, elasticsearch_yml

    (connector,) = load_specs(s)
    connect = dict(line.split("=", 1) for line in connect_properties(s, Path("/plugins")).splitlines() if "=" in line)
    nodes = elasticsearch_nodes(s, Layout(Path("/x"), load_versions()))
    es = yaml.safe_load(elasticsearch_yml(s, nodes[0], nodes))
    names = {
        "connect group": s.connect_group_id,
        "connect configs topic": s.connect_storage_topic("configs"),
        "connect offsets topic": s.connect_storage_topic("offsets"),
        "connect status topic": s.connect_storage_topic("status"),
        "topic prefix": s.topic_prefix,
        "a table topic": s.topic("inventory", "stock"),
        "slot": s.slot_name,
        "connector": s.connector_name,
        "sync index": s.sync_index,
        "elasticsearch cluster": s.elasticsearch_cluster_name,
        "elasticsearch node": s.elasticsearch_node_name,
        "rendered connect group.id": connect["group.id"],
        "rendered connect config.storage.topic": connect["config.storage.topic"],
        "rendered connect offset.storage.topic": connect["offset.storage.topic"],
        "rendered connect status.storage.topic": connect["status.storage.topic"],
        "rendered elasticsearch cluster.name": es["cluster.name"],
        "rendered elasticsearch node.name": es["node.name"],
        "rendered connector name": connector.name,
        "rendered connector topic.prefix": connector.config["topic.prefix"],
        "rendered connector slot.name": connector.config["slot.name"],
    }
    for view in s.views:
        names[f"consumer group {view}"] = s.sink_group_id(view)
        names[f"consumer group {view} (sinks.bootstrap)"] = group_id(s, view)
        names[f"dead-letter topic {view}"] = s.dead_letter_topic(view)
        names[f"dead-letter topic {view} (sinks.bootstrap)"] = dead_letter_topic(s, view)
    return names


@pytest.mark.usefixtures("clean_env")
def test_defaults_derive_exactly_the_names_of_the_running_stack() -> None:
    names = _cluster_names(_settings())
    expected = {
        "connect group": "farmacy-connect",
        "connect configs topic": "farmacy-connect-configs",
        "connect offsets topic": "farmacy-connect-offsets",
        "connect status topic": "farmacy-connect-status",
        "topic prefix": "farmacy",
        "a table topic": "farmacy.inventory.stock",
        "slot": "farmacy_views",
        "connector": "farmacy-postgres-source",
        "sync index": "farmacy-sync",
        "elasticsearch cluster": "farmacy-local",
        "elasticsearch node": "farmacy-es-1",
        "rendered connect group.id": "farmacy-connect",
        "rendered connect config.storage.topic": "farmacy-connect-configs",
        "rendered connect offset.storage.topic": "farmacy-connect-offsets",
        "rendered connect status.storage.topic": "farmacy-connect-status",
        "rendered elasticsearch cluster.name": "farmacy-local",
        "rendered elasticsearch node.name": "farmacy-es-1",
        "rendered connector name": "farmacy-postgres-source",
        "rendered connector topic.prefix": "farmacy",
        "rendered connector slot.name": "farmacy_views",
    }
    for view in VIEW_NAMES:
        for suffix in ("", " (sinks.bootstrap)"):
            expected[f"consumer group {view}{suffix}"] = f"farmacy-sink-{view}"
            expected[f"dead-letter topic {view}{suffix}"] = f"farmacy.dlq.{view}"
    assert names == expected


@pytest.mark.usefixtures("clean_env")
def test_a_second_stack_name_changes_every_cluster_level_name() -> None:
    first, second = _cluster_names(_settings()), _cluster_names(_settings(stack_name="farmacy2"))
    assert first.keys() == second.keys()
    shared = {key: value for key, value in second.items() if value == first[key]}
    assert not shared, f"names the second stack would share with the first: {shared}"
    assert all("farmacy2" in value for value in second.values()), second


@pytest.mark.usefixtures("clean_env")
def test_a_dash_in_the_stack_name_becomes_an_underscore_in_the_slot() -> None:
    assert _settings(stack_name="farmacy-blue").slot_name == "farmacy_blue_views"


@pytest.mark.parametrize("name", ["Farmacy", "farmacy 2", "farmacy.2", "2farmacy", "", "x" * 41])
@pytest.mark.usefixtures("clean_env")
def test_stack_names_that_are_no_valid_topic_index_or_slot_name_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="stack_name"):
        _settings(stack_name=name)


@pytest.mark.usefixtures("clean_env")
def test_explicit_names_stay_possible() -> None:
    s = _settings(stack_name="farmacy2", topic_prefix="shop", slot_name="shop_slot", sync_index="shop-sync")
    assert (s.topic_prefix, s.slot_name, s.sync_index, s.dead_letter_topic("orders")) == (
        "shop",
        "shop_slot",
        "shop-sync",
        "shop.dlq.orders",
    )


@pytest.mark.usefixtures("clean_env")
def test_the_elasticsearch_transport_port_is_its_own_setting() -> None:
    from stack.render import elasticsearch_nodes, elasticsearch_yml

    layout = Layout(Path("/x"), load_versions())
    assert _settings(elasticsearch_port=10200).elasticsearch_transport_port == 9300
    shifted = _settings(elasticsearch_port=10200, elasticsearch_transport_port=10300)
    nodes = elasticsearch_nodes(shifted, layout)
    yml = elasticsearch_yml(shifted, nodes[0], nodes)
    assert "http.port: 10200" in yml.splitlines()
    assert "transport.port: 10300" in yml.splitlines()


def test_production_refuses_hs256_tokens() -> None:
    with pytest.raises(ValidationError, match="FARMACY_AUTH_HS256"):
        Settings(
            mode="production",
            jwt_secret="x" * 40,
            pg_password="a-real-database-password",
            auth_hs256=True,
            **PRODUCTION_ISSUER,
        )


def test_production_refuses_the_local_issuer() -> None:
    with pytest.raises(ValidationError, match="FARMACY_OIDC_ISSUER must be an https URL"):
        Settings(mode="production", jwt_secret="x" * 40, pg_password="a-real-database-password")


@pytest.mark.usefixtures("clean_env")
def test_the_issuer_and_its_key_set_follow_the_identity_providers_port() -> None:
    s = _settings(identity_port=6944)
    assert s.oidc_issuer == "http://127.0.0.1:6944"
    assert s.oidc_jwks_url == "http://127.0.0.1:6944/.well-known/jwks.json"
    external = _settings(oidc_issuer="https://id.example.com/realms/farmacy/")
    assert external.oidc_jwks_url == "https://id.example.com/realms/farmacy/.well-known/jwks.json"
