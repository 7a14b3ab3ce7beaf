"""docker-compose.yml and deploy/k8s/ describe the same system: the same views and commands, the same names for
Connect's group and topics, the same engine versions and PostgreSQL settings, both equal to the settings."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest
import yaml

from farmacy.settings import ROOT, Settings
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


# --- docs/deploy.md's table of refresh, flush and rollout settings ---------------------------------------------------

DEPLOY_DOC = ROOT / "docs" / "deploy.md"
TABLE_HEADING = "### Refresh, flush and rollout settings"


def _doc_table() -> dict[str, str]:
    """setting -> value, from the table under TABLE_HEADING."""
    text = DEPLOY_DOC.read_text()
    section = text[text.index(TABLE_HEADING) :].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    out = {}
    for row in rows[1:]:  # the header first
        _what, setting, value = (cell.strip() for cell in row.strip("|").split(" | "))
        out[setting] = value
    return out


def _setting(variable: str) -> str:
    """The value the pods get: the settings ConfigMap's, else the settings' default."""
    data = _k8s("settings.yaml", "ConfigMap")["data"]
    if variable in data:
        return str(data[variable])
    return str(Settings.model_fields[variable.removeprefix("FARMACY_").lower()].default)


def _rollout(strategy: dict[str, Any]) -> str:
    if strategy["type"] == "Recreate":
        return "Recreate"
    rolling = strategy["rollingUpdate"]
    return f"RollingUpdate, maxSurge {rolling['maxSurge']}, maxUnavailable {rolling['maxUnavailable']}"


def _manifest_table() -> dict[str, str]:
    workloads = [d for d in yaml.safe_load_all((K8S_BASE / "generated" / "workloads.yaml").read_text()) if d]
    rollouts = {d["metadata"]["name"]: _rollout(d["spec"]["strategy"]) for d in workloads if d["kind"] == "Deployment"}
    sinks = {rollouts.pop(worker_program(v)) for v in SETTINGS.views}
    assert len(sinks) == 1
    by_rollout: dict[str, list[str]] = {}
    for name, rollout in rollouts.items():
        by_rollout.setdefault(rollout, []).append(f"`{name}`")
    intervals: dict[str, list[str]] = {}
    for view in sorted(SETTINGS.views):
        settings = json.loads((ROOT / "sinks" / "views" / view / "mapping.json").read_text())["settings"]
        if "refresh_interval" in settings:
            intervals.setdefault(settings["refresh_interval"], []).append(view)
    assert len(intervals) == 1
    ((interval, views),) = intervals.items()
    flush_ms = _k8s("connect.yaml", "KafkaConnect")["spec"]["config"]["offset.flush.interval.ms"]
    return {
        "`offset.flush.interval.ms`": f"{flush_ms} ms",
        "`FARMACY_SINK_PUBLISH_INTERVAL_S`": f"{float(_setting('FARMACY_SINK_PUBLISH_INTERVAL_S')):g} s",
        "`refresh_interval`": f"{interval}: {', '.join(views)}",
        "`FARMACY_WATERMARK_REFRESH_S`": f"{float(_setting('FARMACY_WATERMARK_REFRESH_S')):g} s",
        "`FARMACY_RECONCILE_INTERVAL_S`": f"{float(_setting('FARMACY_RECONCILE_INTERVAL_S')):g} s",
        "`sink-<view>`": sinks.pop(),
        **{", ".join(names): rollout for rollout, names in by_rollout.items()},
    }


def test_deploy_doc_states_the_manifests_refresh_flush_and_rollout_settings_row_by_row() -> None:
    assert _doc_table() == _manifest_table()


def test_deploy_doc_prose_states_the_same_flush_interval() -> None:
    flush_ms = _k8s("connect.yaml", "KafkaConnect")["spec"]["config"]["offset.flush.interval.ms"]
    stated = re.findall(r"offsets flush every (\d+) ms", DEPLOY_DOC.read_text())
    assert stated and set(stated) == {str(flush_ms)}
