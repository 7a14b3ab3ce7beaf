"""deploy/k8s/: every overlay builds and validates against the vendored schemas, and the manifests agree with the
settings, the list of views, the connector configs, the alert rules and the pinned versions."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from farmacy.connect import load_specs
from farmacy.db_roles import ROLES, DbRole
from farmacy.settings import Settings
from farmacy.views import VIEW_NAMES, worker_program
from stack import k8s_manifests as km
from stack.k8s_schemas import CRD_KINDS, crd_file
from stack.k8s_tools import (
    K8S_DIR,
    build,
    installed,
    kubectl_module_version,
    kustomize_version,
    overlays,
    required_version,
    validate,
)
from stack.manifests import repository_settings
from stack.versions import VERSIONS_FILE, load_versions

BASE = K8S_DIR / "base"
TOOLS = installed(Settings())
needs_tools = pytest.mark.skipif(
    TOOLS is None, reason="kustomize/kubeconform missing: `bin/farmacy test` installs them (go install)"
)
# Secrets the operators generate; any other Secret a manifest references must be documented in docs/deploy.md.
OPERATOR_SECRETS = {f"{km.PG_CLUSTER}-app", f"{km.ES_CLUSTER}-es-elastic-user"}
DEPLOY_DOC = K8S_DIR.parent.parent / "docs" / "deploy.md"


def _base_documents() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((BASE / resource).read_text()) if d]
    return docs


DOCS = _base_documents()
SETTINGS = repository_settings()


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in DOCS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def _all(kind: str) -> list[dict[str, Any]]:
    return [d for d in DOCS if d["kind"] == kind]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    containers: list[dict[str, Any]] = spec["template"]["spec"]["containers"]
    return containers


WORKLOADS = [d for d in DOCS if d["kind"] in ("Deployment", "Job", "CronJob")]


# --- validation ----------------------------------------------------------------------------------------------------


@needs_tools
@pytest.mark.parametrize("overlay", overlays(), ids=lambda p: p.name)
def test_overlay_builds_and_is_valid_against_the_vendored_schemas(overlay: Path) -> None:
    assert TOOLS is not None
    manifests = build(TOOLS, overlay)
    result = validate(TOOLS, manifests)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = re.search(r"(\d+) resources found.*Valid: (\d+), Invalid: 0, Errors: 0, Skipped: 0", result.stdout)
    assert summary and summary.group(1) == summary.group(2), result.stdout


@needs_tools
@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("Deployment", ("spec",)),
        ("KafkaConnector", ("spec",)),
        ("Cluster", ("spec", "postgresql")),
        ("ScaledObject", ("spec",)),
        ("Elasticsearch", ("spec",)),
    ],
)
def test_validation_refuses_an_unknown_field(kind: str, path: tuple[str, ...]) -> None:
    assert TOOLS is not None
    doc = json.loads(json.dumps(next(d for d in DOCS if d["kind"] == kind)))
    target = doc
    for key in path:
        target = target[key]
    target["notAField"] = 1
    result = validate(TOOLS, yaml.safe_dump(doc))
    assert result.returncode != 0
    assert "notAField" in result.stdout


@needs_tools
def test_a_kind_without_a_vendored_schema_fails_rather_than_being_skipped_or_downloaded() -> None:
    assert TOOLS is not None
    topic = {"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaTopic", "metadata": {"name": "x"}, "spec": {}}
    result = validate(TOOLS, yaml.safe_dump(topic))
    assert result.returncode != 0
    assert "could not find schema for KafkaTopic" in result.stdout


@needs_tools
def test_kustomize_is_the_one_built_into_the_pinned_kubectl() -> None:
    """`kubectl apply -k` builds with the kustomize its release requires; the tests build with that very version."""
    assert TOOLS is not None
    pins = tomllib.loads(VERSIONS_FILE.read_text())["kubernetes"]
    assert kustomize_version(TOOLS) == pins["kustomize"]
    go_mod = TOOLS.kubectl_go_mod.read_text()
    assert f"\nmodule {pins['kubectl_module']}\n" in go_mod
    assert required_version(go_mod, pins["kustomize_module"]) == pins["kustomize"]


def test_kubectl_module_version_and_go_mod_requirements() -> None:
    assert kubectl_module_version("v1.35.4") == "v0.35.4"
    go_mod = "module k8s.io/kubectl\n\nrequire (\n\tsigs.k8s.io/kustomize/kustomize/v5 v5.7.1\n)\n"
    assert required_version(go_mod, "sigs.k8s.io/kustomize/kustomize/v5") == "v5.7.1"
    assert required_version("require sigs.k8s.io/kustomize/kyaml v0.20.1\n", "sigs.k8s.io/kustomize/kyaml") == "v0.20.1"
    assert required_version(go_mod, "sigs.k8s.io/kustomize/api") is None


def test_every_overlay_builds_on_the_base() -> None:
    assert {p.name for p in overlays()} == {"small", "production"}
    for overlay in overlays():
        kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        assert "../../base" in kustomization["resources"]


# --- views and sink workers ----------------------------------------------------------------------------------------


def test_every_view_has_one_sink_deployment_and_scaled_object() -> None:
    sinks = {d["metadata"]["name"] for d in _all("Deployment") if d["metadata"]["labels"].get("farmacy.io/view")}
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in _all("ScaledObject")}
    expected = {worker_program(v) for v in SETTINGS.views}
    assert SETTINGS.views == VIEW_NAMES
    assert sinks == expected
    assert scaled == expected


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_sink_worker_runs_its_view_on_its_settings_port(view: str) -> None:
    deployment = _one("Deployment", worker_program(view))
    (container,) = _containers(deployment)
    assert container["command"] == ["python", "-m", "sinks", view]
    assert container["ports"] == [{"name": "http", "containerPort": SETTINGS.sink_port(view)}]
    assert "replicas" not in deployment["spec"], "KEDA owns the count"
    service = _one("Service", worker_program(view))
    assert service["spec"]["ports"][0]["port"] == SETTINGS.sink_port(view)


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_scaled_object_follows_the_views_consumer_group_capped_at_the_partitions(view: str) -> None:
    scaled = _one("ScaledObject", worker_program(view))
    lag, _count = scaled["spec"]["triggers"]
    (connector,) = load_specs(SETTINGS)
    partitions = int(connector.config["topic.creation.default.partitions"])
    assert lag["type"] == "kafka"
    assert lag["metadata"]["consumerGroup"] == SETTINGS.sink_group_id(view)
    assert lag["metadata"]["bootstrapServers"] == f"{_one('Kafka')['metadata']['name']}-kafka-bootstrap:9092"
    assert partitions == SETTINGS.topic_partitions
    assert 1 == scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"] == partitions


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_scaled_object_runs_at_least_the_worker_count_the_workers_report(view: str) -> None:
    """`farmacy scale` records the count in the view's sync document; each worker reports it at /control
    (``sink_workers`` until one is recorded), and KEDA's metrics-api trigger asks one replica per worker."""
    scaled = _one("ScaledObject", worker_program(view))
    _lag, count = scaled["spec"]["triggers"]
    service = _one("Service", worker_program(view))
    namespace = yaml.safe_load((BASE / "kustomization.yaml").read_text())["namespace"]
    assert count["type"] == "metrics-api"
    url = f"http://{service['metadata']['name']}.{namespace}.svc:{service['spec']['ports'][0]['port']}/control"
    assert count["metadata"] == {"url": url, "valueLocation": "workers", "targetValue": "1"}
    policy = _one("NetworkPolicy", "sink-worker-count")
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/component": "sink"}
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]


def test_a_new_view_gets_its_worker_and_scaled_object() -> None:
    with_toy = Settings(_env_file=None, views=(*VIEW_NAMES, "toy"))
    names = {d["metadata"]["name"] for d in km.sink_workloads(with_toy) if d["kind"] == "ScaledObject"}
    assert worker_program("toy") in names


# --- capture -------------------------------------------------------------------------------------------------------


def test_kafka_connector_is_the_connector_json_rendered_for_these_settings() -> None:
    (spec,) = load_specs(SETTINGS)
    connector = _one("KafkaConnector")
    config = connector["spec"]["config"]
    assert connector["metadata"]["name"] == SETTINGS.connector_name == spec.name
    assert connector["metadata"]["labels"]["strimzi.io/cluster"] == _one("KafkaConnect")["metadata"]["name"]
    assert connector["spec"]["class"] == spec.config["connector.class"]
    assert str(connector["spec"]["tasksMax"]) == spec.config["tasks.max"]
    assert config["topic.prefix"] == SETTINGS.topic_prefix
    assert config["slot.name"] == SETTINGS.slot_name
    for key, value in spec.config.items():
        if key in ("connector.class", "tasks.max") or key in km.CONNECTOR_OVERRIDES:
            continue
        if "${file:" in value and key in ("database.user", "database.password"):
            assert config[key].startswith(f"${{dir:{km.PG_CREDENTIALS_DIR}:"), key
        elif "${file:" in value:
            assert config[key] in km.PG_COORDINATES.values(), key
        else:
            assert config[key] == value, key


def test_connector_credentials_are_mounted_from_the_postgres_secret() -> None:
    connect = _one("KafkaConnect")["spec"]
    (volume,) = connect["template"]["pod"]["volumes"]
    (mount,) = connect["template"]["connectContainer"]["volumeMounts"]
    assert volume["secret"]["secretName"] == km.pg_role_secret(DbRole.CAPTURE) == f"{km.PG_CLUSTER}-capture"
    assert mount == {"name": volume["name"], "mountPath": km.PG_CREDENTIALS_DIR, "readOnly": True}
    assert connect["config"]["config.providers.dir.param.allowed.paths"] == km.PG_CREDENTIALS_DIR
    references = re.findall(r"\$\{dir:([^:}]+):([^}]+)\}", json.dumps(_one("KafkaConnector")["spec"]["config"]))
    assert references
    assert {path for path, _ in references} == {km.PG_CREDENTIALS_DIR}
    assert {key for _, key in references} <= set(km.PG_SECRET_KEYS.values())


def test_the_connector_reaches_the_database_the_services_do() -> None:
    config = _one("KafkaConnector")["spec"]["config"]
    data = _one("ConfigMap", km.SETTINGS_CONFIGMAP)["data"]
    assert config["database.hostname"] == data["FARMACY_PG_HOST"]
    assert config["database.port"] == data["FARMACY_PG_PORT"]
    assert config["database.dbname"] == data["FARMACY_PG_DATABASE"]


def test_each_workload_logs_in_to_the_database_as_its_own_role() -> None:
    """The services use their roles' Secrets (farmacy/db_roles.py); only the migrations Job uses the owner's, and
    the Cluster declares every role with the Secret the workloads read."""
    secrets = {}
    for doc in [*km.api_workloads(SETTINGS), *km.sink_workloads(SETTINGS), *km.job_workloads()]:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in container["env"]}
            user = env["FARMACY_PG_USER"]["valueFrom"]["secretKeyRef"]["name"]
            assert env["FARMACY_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == user
            secrets[doc["metadata"]["name"]] = user
    assert secrets.pop("migrate") == f"{km.PG_CLUSTER}-app"
    assert secrets.pop("command-api") == km.pg_role_secret(DbRole.COMMAND)
    assert secrets.pop("ops-api") == km.pg_role_secret(DbRole.OPS)
    assert set(secrets.values()) == {km.pg_role_secret(DbRole.READER)}, secrets
    cluster = _one("Cluster")
    declared = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    assert set(declared) == {spec.name for spec in ROLES.values()}
    for role, spec in ROLES.items():
        assert declared[spec.name]["passwordSecret"]["name"] == km.pg_role_secret(role)
        assert declared[spec.name].get("replication", False) is spec.replication
        assert set(declared[spec.name].get("inRoles", [])) == set(spec.member_of)


def test_connect_group_and_topics_are_the_settings_names() -> None:
    connect = _one("KafkaConnect")["spec"]
    assert connect["groupId"] == SETTINGS.connect_group_id
    assert connect["configStorageTopic"] == SETTINGS.connect_storage_topic("configs")
    assert connect["offsetStorageTopic"] == SETTINGS.connect_storage_topic("offsets")
    assert connect["statusStorageTopic"] == SETTINGS.connect_storage_topic("status")
    assert connect["bootstrapServers"] == f"{_one('Kafka')['metadata']['name']}-kafka-bootstrap:9092"


def test_postgres_has_logical_decoding_and_a_replica() -> None:
    cluster = _one("Cluster")["spec"]
    assert cluster["postgresql"]["parameters"]["wal_level"] == "logical"
    assert cluster["instances"] >= 2
    assert cluster["bootstrap"]["initdb"]["database"] == SETTINGS.pg_database


def test_kafka_is_kraft_with_node_pools() -> None:
    roles = {role for pool in _all("KafkaNodePool") for role in pool["spec"]["roles"]}
    assert roles == {"controller", "broker"}
    assert "zookeeper" not in _one("Kafka")["spec"]
    assert all(
        p["metadata"]["labels"]["strimzi.io/cluster"] == _one("Kafka")["metadata"]["name"]
        for p in _all("KafkaNodePool")
    )


# --- versions ------------------------------------------------------------------------------------------------------


def test_engine_versions_are_the_pinned_ones() -> None:
    versions = load_versions()
    pins = tomllib.loads(VERSIONS_FILE.read_text())
    assert _one("Kafka")["spec"]["kafka"]["version"] == versions.kafka
    connect = _one("KafkaConnect")["spec"]
    assert connect["version"] == versions.kafka
    (plugin,) = connect["build"]["plugins"]
    (artifact,) = plugin["artifacts"]
    assert f"/{versions.debezium}/debezium-connector-postgres-{versions.debezium}-plugin.tar.gz" in artifact["url"]
    assert _one("Elasticsearch")["spec"]["version"] == versions.elasticsearch
    assert _one("Cluster")["spec"]["imageName"] == pins["cloudnative_pg"]["operand_image"]


def test_every_custom_resource_uses_its_operators_pinned_api_and_has_a_vendored_schema() -> None:
    pins = tomllib.loads(VERSIONS_FILE.read_text())
    custom = [d for d in DOCS if (d["apiVersion"].split("/")[0], d["kind"]) in CRD_KINDS]
    assert {d["kind"] for d in custom} == {kind for _, kind in CRD_KINDS}
    for doc in custom:
        group, version = doc["apiVersion"].split("/")
        assert doc["apiVersion"] == pins[CRD_KINDS[(group, doc["kind"])]]["crd_api_version"], doc["kind"]
        assert crd_file(group, doc["kind"], version).exists(), doc["kind"]


# --- our processes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module", "port_field"),
    [
        ("command-api", "api.command", "command_port"),
        ("query-api", "api.query", "query_port"),
        ("ops-api", "api.ops", "ops_port"),
    ],
)
def test_api_runs_on_its_settings_port_behind_an_hpa(name: str, module: str, port_field: str) -> None:
    (container,) = _containers(_one("Deployment", name))
    port = getattr(SETTINGS, port_field)
    assert container["command"] == ["python", "-m", module]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert _one("Service", name)["spec"]["ports"][0]["port"] == port
    hpa = _one("HorizontalPodAutoscaler", name)
    assert hpa["spec"]["scaleTargetRef"]["name"] == name
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_reconciliation_runs_as_in_the_local_stack_and_exports_its_drift() -> None:
    deployment = _one("Deployment", "reconciler")
    (container,) = _containers(deployment)
    assert container["command"] == ["python", "-m", "ops.reconciler"]
    assert container["ports"] == [{"name": "http", "containerPort": SETTINGS.reconciler_port}]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == km.SINGLETON_ROLLOUT
    assert _one("Service", "reconciler")["spec"]["ports"][0]["port"] == SETTINGS.reconciler_port
    assert not _all("CronJob"), "a CronJob's run exports no metric: ViewDrift could never fire"


@needs_tools
def test_only_production_repairs_the_drift_it_finds() -> None:
    assert TOOLS is not None
    for overlay in overlays():
        built = [d for d in yaml.safe_load_all(build(TOOLS, overlay)) if d]
        (settings_map,) = [
            d for d in built if d["kind"] == "ConfigMap" and d["metadata"]["name"] == km.SETTINGS_CONFIGMAP
        ]
        repair = settings_map["data"].get("FARMACY_RECONCILE_REPAIR")
        assert repair == ("true" if overlay.name == "production" else None), overlay.name


def test_every_container_requests_cpu_and_memory_and_limits_memory() -> None:
    for doc in WORKLOADS:
        for container in _containers(doc):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), doc["metadata"]["name"]
            assert "memory" in resources["limits"], doc["metadata"]["name"]


def test_secrets_are_only_referenced() -> None:
    assert not _all("Secret")
    settings_map = _one("ConfigMap", km.SETTINGS_CONFIGMAP)["data"]
    assert not [k for k in settings_map if re.search("PASSWORD|SECRET|TOKEN", k)]
    referenced = set()
    for doc in WORKLOADS:
        for container in _containers(doc):
            for env in container["env"]:
                if re.search("PASSWORD|SECRET", env["name"]):
                    referenced.add(env["valueFrom"]["secretKeyRef"]["name"])
                    assert "value" not in env, env["name"]
                elif "value" in env:
                    assert "$(" in env["value"] or not re.search("password|secret", env["value"], re.I)
    roles = {km.pg_role_secret(role) for role in DbRole if role is not DbRole.CAPTURE}  # Connect mounts capture's
    assert referenced - OPERATOR_SECRETS == {km.JWT_SECRET, *roles}
    deploy_doc = DEPLOY_DOC.read_text()
    assert f"`{km.JWT_SECRET}`" in deploy_doc, "docs/deploy.md must say how to create it"
    assert f"`{km.pg_role_secret(DbRole.COMMAND)}`" in deploy_doc and "`farmacy-pg-<role>`" in deploy_doc


def test_settings_map_points_at_the_operators_services() -> None:
    data = _one("ConfigMap", km.SETTINGS_CONFIGMAP)["data"]
    assert data["FARMACY_PG_HOST"] == f"{_one('Cluster')['metadata']['name']}-rw"
    assert data["FARMACY_KAFKA_BOOTSTRAP"] == f"{_one('Kafka')['metadata']['name']}-kafka-bootstrap:9092"
    assert data["FARMACY_CONNECT_URL"] == f"http://{_one('KafkaConnect')['metadata']['name']}-connect-api:8083"
    assert data["FARMACY_STACK_NAME"] == SETTINGS.stack_name
    assert data["FARMACY_MODE"] == "production"
    url = next(e["value"] for e in km.service_env(None) if e["name"] == "FARMACY_ELASTICSEARCH_URL")
    assert f"@{_one('Elasticsearch')['metadata']['name']}-es-http:9200" in url


def test_settings_map_points_at_an_external_issuer_with_hs256_off() -> None:
    data = _one("ConfigMap", km.SETTINGS_CONFIGMAP)["data"]
    values = {k.removeprefix("FARMACY_").lower(): v for k, v in data.items()}
    settings = Settings(_env_file=None, jwt_secret="x" * 40, pg_password="a-real-database-password", **values)
    assert settings.mode == "production" and settings.auth_hs256 is False
    assert settings.oidc_issuer.startswith("https://") and settings.oidc_jwks_url.startswith("https://")
    (egress,) = [p for p in _all("NetworkPolicy") if p["metadata"]["name"] == "apis-identity-provider-egress"]
    assert egress["spec"]["egress"][0]["ports"] == [{"port": 443, "protocol": "TCP"}]


def test_service_monitor_scrapes_every_service_of_ours() -> None:
    monitor = _one("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    ours = _all("Service")
    assert len(ours) == 5 + len(VIEW_NAMES)  # three APIs, the watchdog, the reconciler, one per view
    for service in ours:
        assert selector.items() <= service["metadata"]["labels"].items()
        assert any(p["name"] == monitor["spec"]["endpoints"][0]["port"] for p in service["spec"]["ports"])


def test_prometheus_rule_is_the_alert_rules_file() -> None:
    rules = yaml.safe_load(km.ALERTS_FILE.read_text())
    assert _one("PrometheusRule")["spec"]["groups"] == rules["groups"]


def test_network_policies_deny_by_default() -> None:
    default = _one("NetworkPolicy", "default-deny-ingress")
    assert default["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}


def test_egress_of_every_process_of_ours_is_limited() -> None:
    (selector,) = _one("NetworkPolicy", "our-processes-egress")["spec"]["podSelector"]["matchExpressions"]
    components = {d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] for d in WORKLOADS}
    assert selector["key"] == "app.kubernetes.io/component"
    assert selector["operator"] == "In"
    assert set(selector["values"]) == components


def test_every_deployment_has_a_disruption_budget() -> None:
    budgets = {d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]: d for d in _all("PodDisruptionBudget")}
    for deployment in _all("Deployment"):
        name = deployment["metadata"]["name"]
        assert budgets[name]["spec"] == {"maxUnavailable": 1, "selector": deployment["spec"]["selector"]}


# --- pod hardening, probes, worker counts, rollouts -------------------------------------------------------------------


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


@pytest.mark.parametrize("doc", WORKLOADS, ids=lambda d: d["metadata"]["name"])
def test_every_container_has_the_restricted_security_context(doc: dict[str, Any]) -> None:
    pod = _pod(doc)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] > 10000
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"] for v in pod.get("volumes", [])}
    for container in _containers(doc):
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert context["readOnlyRootFilesystem"] is True
        assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes


@pytest.mark.parametrize(
    "doc", [d for d in WORKLOADS if d["kind"] == "Deployment"], ids=lambda d: d["metadata"]["name"]
)
def test_every_long_running_container_has_startup_liveness_and_readiness_probes(doc: dict[str, Any]) -> None:
    for container in _containers(doc):
        assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        # Liveness must not follow the dependencies: an outage of Elasticsearch would restart every pod.
        assert container["livenessProbe"]["tcpSocket"] == {"port": "http"}
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def test_jobs_run_to_completion_without_probes() -> None:
    for doc in WORKLOADS:
        if doc["kind"] in ("Job", "CronJob"):
            for container in _containers(doc):
                assert not {"livenessProbe", "readinessProbe", "startupProbe"} & set(container)


@pytest.mark.parametrize(("name", "setting"), [("command-api", "command_workers"), ("query-api", "query_workers")])
def test_api_worker_processes_come_from_settings_sized_to_the_memory_limit(
    name: str, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (container,) = _containers(_one("Deployment", name))
    env = {e["name"]: e.get("value") for e in container["env"]}
    variable = f"FARMACY_{setting.upper()}"
    workers = int(env[variable])
    limit = km.memory_mi(container["resources"]["limits"]["memory"])
    assert workers == km.api_workers(container["resources"]) >= 1
    # uvicorn's supervising process counts as one more process.
    assert (workers + 1) * km.API_PROCESS_MEMORY_MI <= limit
    assert (workers + 2) * km.API_PROCESS_MEMORY_MI > limit, "as many as fit, not fewer"
    # The variable is the setting's: Settings reads it (0 there would mean one per core of the node).
    monkeypatch.setenv(variable, str(workers))
    assert getattr(Settings(_env_file=None), setting) == workers
    assert variable not in _one("ConfigMap", km.SETTINGS_CONFIGMAP)["data"]


def test_api_worker_count_follows_the_memory_limit() -> None:
    assert km.api_workers({"limits": {"memory": "384Mi"}}) == 2
    assert km.api_workers({"limits": {"memory": "1Gi"}}) == 7
    assert km.api_workers({"limits": {"memory": "128Mi"}}) == 1


def test_sink_workers_are_one_process_each_and_their_count_is_the_settings() -> None:
    for view in VIEW_NAMES:
        (container,) = _containers(_one("Deployment", worker_program(view)))
        assert container["command"] == ["python", "-m", "sinks", view]  # one worker process per pod
        assert not [e for e in container["env"] if e["name"].endswith("_WORKERS")]


@pytest.mark.parametrize(
    "doc", [d for d in WORKLOADS if d["kind"] == "Deployment"], ids=lambda d: d["metadata"]["name"]
)
def test_every_deployment_names_its_rollout(doc: dict[str, Any]) -> None:
    strategy = doc["spec"]["strategy"]
    if doc["metadata"]["labels"].get("farmacy.io/view"):
        assert strategy == km.SINK_ROLLOUT
    elif doc["spec"].get("replicas") == 1:
        assert strategy == km.SINGLETON_ROLLOUT
    else:
        assert strategy == km.API_ROLLOUT


# --- the system of record, the capture's slot, the engines' metrics --------------------------------------------------


def test_postgres_is_backed_up_nightly_and_archives_its_wal() -> None:
    cluster = _one("Cluster")
    backup = cluster["spec"]["backup"]
    store = backup["barmanObjectStore"]
    assert store["destinationPath"].startswith("s3://")
    assert store["wal"]["compression"] and store["data"]["compression"]
    assert re.fullmatch(r"[1-9][0-9]*[dwm]", backup["retentionPolicy"])
    secrets = {ref["name"] for ref in store["s3Credentials"].values()}
    assert secrets == {"farmacy-backup-store"}
    assert "`farmacy-backup-store`" in DEPLOY_DOC.read_text(), "docs/deploy.md must say how to create it"
    scheduled = _one("ScheduledBackup")["spec"]
    assert scheduled["cluster"]["name"] == cluster["metadata"]["name"]
    assert scheduled["method"] == "barmanObjectStore"
    assert len(scheduled["schedule"].split()) == 6, "CloudNativePG's schedule starts with seconds"


def test_the_capture_slot_is_a_failover_slot_kept_on_the_standbys() -> None:
    cluster = _one("Cluster")["spec"]
    major = int(re.search(r":(\d+)\.", cluster["imageName"]).group(1))  # type: ignore[union-attr]
    assert major >= 17, "failover slots need PostgreSQL 17"
    assert cluster["replicationSlots"]["highAvailability"] == {"enabled": True, "synchronizeLogicalDecoding": True}
    assert cluster["postgresql"]["parameters"]["hot_standby_feedback"] == "on"
    config = _one("KafkaConnector")["spec"]["config"]
    assert config["slot.failover"] == "true"
    assert config["slot.name"] == SETTINGS.slot_name


def test_kafka_and_connect_export_metrics_that_prometheus_scrapes() -> None:
    kafka = _one("Kafka")["spec"]["kafka"]["metricsConfig"]
    assert kafka["type"] == "strimziMetricsReporter" and kafka["values"]["allowList"]
    connect = _one("KafkaConnect")["spec"]["metricsConfig"]
    assert connect["type"] == "jmxPrometheusExporter"
    ref = connect["valueFrom"]["configMapKeyRef"]
    rules = yaml.safe_load(_one("ConfigMap", ref["name"])["data"][ref["key"]])
    assert any(rule["pattern"].startswith("debezium.") for rule in rules["rules"])
    monitor = _one("PodMonitor")["spec"]
    (expression,) = monitor["selector"]["matchExpressions"]
    assert (expression["key"], expression["operator"], set(expression["values"])) == (
        "strimzi.io/kind",
        "In",
        {"Kafka", "KafkaConnect"},
    )
    assert [e["port"] for e in monitor["podMetricsEndpoints"]] == ["tcp-prometheus"]
    ingress = _one("NetworkPolicy", "engine-metrics")["spec"]
    assert ingress["podSelector"] == monitor["selector"]
    assert ingress["ingress"][0]["ports"] == [{"port": 9404}]


RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_the_engines_containers_ask_for_the_restricted_security_context() -> None:
    kafka = _one("Kafka")["spec"]["kafka"]["template"]
    connect = _one("KafkaConnect")["spec"]["template"]
    for template, container in ((kafka, "kafkaContainer"), (connect, "connectContainer")):
        assert RESTRICTED_CONTAINER.items() <= template[container]["securityContext"].items()
        assert template["pod"]["securityContext"] == {
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
    assert not [p for p in _all("KafkaNodePool") if "template" in p["spec"]], "a pool's template replaces Kafka's"
    for node_set in _one("Elasticsearch")["spec"]["nodeSets"]:
        for container in node_set["podTemplate"]["spec"]["containers"]:
            assert RESTRICTED_CONTAINER.items() <= container["securityContext"].items()


def test_the_namespace_enforces_baseline_and_warns_below_restricted() -> None:
    labels = _one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
