"""docker-compose.yml and deploy/k8s/ describe the same system: the same views and commands, the same names for
Connect's group and topics, the same engine versions and PostgreSQL settings, both equal to the settings."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml

from farmacy.settings import ROOT
from farmacy.views import worker_program
from stack.manifests import repository_settings
from stack.versions import load_versions

SETTINGS = repository_settings()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
K8S_BASE = ROOT / "deploy" / "k8s" / "base"


def _k8s(file: str, kind: str, name: str | None = None) -> dict[str, Any]:
    docs: list[dict[str, Any]] = [
        d
        for d in yaml.safe_load_all((K8S_BASE / file).read_text())
        if d and d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(docs) == 1, f"{file}: {len(docs)} {kind} {name or ''}"
    return docs[0]


def _compose_env(service: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in SERVICES[service]["environment"].items()}


def _compose_postgres_options() -> dict[str, str]:
    options = {}
    for flag, value in itertools.pairwise(SERVICES["postgres"]["command"]):
        if flag == "-c":
            key, _, val = value.partition("=")
            options[key] = val
    return options


def _tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


def test_compose_connect_names_equal_the_settings_and_the_k8s_connect() -> None:
    env = _compose_env("connect")
    k8s = _k8s("connect.yaml", "KafkaConnect")["spec"]
    assert env["GROUP_ID"] == SETTINGS.connect_group_id == k8s["groupId"]
    assert env["CONFIG_STORAGE_TOPIC"] == SETTINGS.connect_storage_topic("configs") == k8s["configStorageTopic"]
    assert env["OFFSET_STORAGE_TOPIC"] == SETTINGS.connect_storage_topic("offsets") == k8s["offsetStorageTopic"]
    assert env["STATUS_STORAGE_TOPIC"] == SETTINGS.connect_storage_topic("status") == k8s["statusStorageTopic"]
    assert int(env["OFFSET_FLUSH_INTERVAL_MS"]) == int(k8s["config"]["offset.flush.interval.ms"])
    assert "file" in env["CONNECT_CONFIG_PROVIDERS"] and "dir" in k8s["config"]["config.providers"]


def test_compose_and_k8s_run_the_same_engine_versions() -> None:
    versions = load_versions()
    assert _tag(SERVICES["kafka"]["image"]) == versions.kafka == _k8s("kafka.yaml", "Kafka")["spec"]["kafka"]["version"]
    assert _k8s("connect.yaml", "KafkaConnect")["spec"]["version"] == versions.kafka
    es = _k8s("elasticsearch.yaml", "Elasticsearch")["spec"]["version"]
    assert _tag(SERVICES["elasticsearch"]["image"]) == versions.elasticsearch == es
    (plugin,) = _k8s("connect.yaml", "KafkaConnect")["spec"]["build"]["plugins"]
    assert _tag(SERVICES["connect"]["image"]) == versions.debezium
    assert f"/{versions.debezium}/" in plugin["artifacts"][0]["url"]


@pytest.mark.parametrize(
    "option", ["wal_level", "max_wal_senders", "max_replication_slots", "max_slot_wal_keep_size", "max_connections"]
)
def test_compose_and_k8s_configure_postgres_alike(option: str) -> None:
    k8s = _k8s("postgres.yaml", "Cluster")["spec"]["postgresql"]["parameters"]
    assert _compose_postgres_options()[option] == str(k8s[option])


def test_compose_and_k8s_run_one_sink_worker_per_view_with_the_same_command() -> None:
    workloads = [d for d in yaml.safe_load_all((K8S_BASE / "generated" / "workloads.yaml").read_text()) if d]
    k8s_sinks = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["command"]
        for d in workloads
        if d["kind"] == "Deployment" and "farmacy.io/view" in d["metadata"]["labels"]
    }
    compose_sinks = {name: s["command"] for name, s in SERVICES.items() if name.startswith("sink-")}
    assert compose_sinks == k8s_sinks
    assert set(compose_sinks) == {worker_program(v) for v in SETTINGS.views}


def test_compose_and_k8s_run_the_same_api_commands() -> None:
    workloads = [d for d in yaml.safe_load_all((K8S_BASE / "generated" / "workloads.yaml").read_text()) if d]
    k8s = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["command"]
        for d in workloads
        if d["kind"] == "Deployment"
    }
    for name in ("command-api", "query-api", "ops-api", "watchdog"):
        assert SERVICES[name]["command"] == k8s[name], name
    (migrate,) = [d for d in workloads if d["kind"] == "Job"]
    assert migrate["spec"]["template"]["spec"]["containers"][0]["command"] == SERVICES["migrate"]["command"]
