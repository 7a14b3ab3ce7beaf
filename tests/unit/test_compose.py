"""docker-compose.yml, read statically: pinned images, engine settings, wiring, secrets, ports."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from farmacy.settings import ROOT, Settings
from farmacy.views import VIEW_NAMES, worker_program
from stack.versions import load_versions

COMPOSE_FILE = ROOT / "docker-compose.yml"
CONNECTOR_FILE = ROOT / "connectors" / "farmacy-postgres-source.json"
POSTGRES_PROPERTIES = ROOT / "deploy" / "compose" / "postgres.properties"

# Compose service -> stack/versions.toml section that pins its image.
ENGINE_SECTIONS = {
    "postgres": "postgresql",
    "kafka": "kafka",
    "elasticsearch": "elasticsearch",
    "connect": "debezium",
}
ONE_SHOTS = ("migrate", "register")
OUR_SERVICES = (
    "migrate",
    "register",
    "command-api",
    "query-api",
    *(worker_program(v) for v in VIEW_NAMES),
    "ops-api",
    "watchdog",
)
# What our processes' Settings must read inside the compose network: variable -> (value, service).
SERVICE_ADDRESSES = {
    "FARMACY_PG_HOST": ("postgres", "postgres"),
    "FARMACY_PG_PORT": ("5432", "postgres"),
    "FARMACY_KAFKA_BOOTSTRAP": ("kafka:9092", "kafka"),
    "FARMACY_CONNECT_URL": ("http://connect:8083", "connect"),
    "FARMACY_ELASTICSEARCH_URL": ("http://elasticsearch:9200", "elasticsearch"),
}
FILE_PLACEHOLDER = re.compile(r"\$\{file:([^:}]+):([^}]+)\}")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _env(service: str) -> dict[str, str]:
    raw = _services()[service].get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(k): str(v) for k, v in raw.items()}


def _image_tag(image: str) -> str | None:
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _published(service: str) -> list[tuple[int, int]]:
    """(host port, container port) pairs of a service's `ports`, short or long syntax."""
    pairs = []
    for entry in _services()[service].get("ports", []):
        if isinstance(entry, dict):
            pairs.append((int(entry["published"]), int(entry["target"])))
        else:
            parts = str(entry).split("/")[0].split(":")
            pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def _postgres_options() -> dict[str, str]:
    command = _services()["postgres"]["command"]
    if isinstance(command, str):
        command = command.split()
    options = {}
    for flag, value in itertools.pairwise(command):
        if flag == "-c":
            key, _, val = value.partition("=")
            options[key] = val
    return options


def _mounts(service: str) -> list[tuple[str, str]]:
    """(source, target) pairs of a service's bind mounts and volumes, short or long syntax."""
    pairs = []
    for entry in _services()[service].get("volumes", []):
        if isinstance(entry, dict):
            pairs.append((str(entry["source"]), str(entry["target"])))
        else:
            source, target, *_ = str(entry).split(":")
            pairs.append((source, target))
    return pairs


def _properties(path: Path) -> dict[str, str]:
    props = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        props[key.strip()] = value.strip()
    return props


def _connector_file_references() -> list[tuple[str, str]]:
    config = json.loads(CONNECTOR_FILE.read_text())["config"]
    return [(m.group(1), m.group(2)) for value in config.values() for m in FILE_PLACEHOLDER.finditer(value)]


def _connect_file_for(path: str) -> Path:
    """The host file that Connect sees at `path` (relative paths resolve against its working_dir)."""
    connect = _services()["connect"]
    target = PurePosixPath(path)
    if not target.is_absolute():
        target = PurePosixPath(connect["working_dir"]) / target
    for source, mounted_at in _mounts("connect"):
        if PurePosixPath(mounted_at) == target:
            return (ROOT / source).resolve()
    raise AssertionError(f"{target} is not mounted into connect")


def _long_running() -> list[str]:
    return [name for name in _services() if name not in ONE_SHOTS]


def test_every_image_is_pinned_and_none_is_latest() -> None:
    for name, service in _services().items():
        tag = _image_tag(service["image"])
        assert tag, f"{name}: {service['image']} has no tag"
        assert tag != "latest", name


def test_engine_images_equal_the_tags_in_versions_toml() -> None:
    images = load_versions().images
    assert set(ENGINE_SECTIONS.values()) == set(images)
    services = _services()
    for service, section in ENGINE_SECTIONS.items():
        assert services[service]["image"] == images[section], service


def test_our_services_build_this_repository_into_one_image() -> None:
    services = _services()
    shared = _compose()["x-farmacy-service"]
    for name in OUR_SERVICES:
        assert services[name]["build"] == shared["build"] == ".", name
        assert services[name]["image"] == shared["image"], name


def test_postgres_command_sets_wal_level_logical() -> None:
    assert _postgres_options()["wal_level"] == "logical"


def test_postgres_allows_ten_wal_senders_and_replication_slots() -> None:
    options = _postgres_options()
    assert options["max_wal_senders"] == "10"
    assert options["max_replication_slots"] == "10"


def test_postgres_publishes_the_settings_port_to_5432() -> None:
    assert _published("postgres") == [(Settings.model_fields["pg_port"].default, 5432)]


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _services()
    for name in _long_running():
        check = services[name].get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert not check.get("disable", False), name
        assert check["test"], name


def test_one_shots_do_not_restart() -> None:
    services = _services()
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no", name


def test_every_depends_on_uses_a_health_or_completion_condition() -> None:
    services = _services()
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on is a bare list, without conditions"
        for dependency, spec in depends_on.items():
            expected = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            assert spec["condition"] == expected, f"{name} -> {dependency}"


def test_elasticsearch_is_single_node_with_security_off() -> None:
    env = _env("elasticsearch")
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "false"


def test_kafka_has_topic_auto_creation_off() -> None:
    assert _env("kafka")["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_connect_has_the_file_config_provider() -> None:
    env = _env("connect")
    assert "file" in env["CONNECT_CONFIG_PROVIDERS"].split(",")
    assert env["CONNECT_CONFIG_PROVIDERS_FILE_CLASS"] == "org.apache.kafka.common.config.provider.FileConfigProvider"


def test_every_connector_file_reference_is_mounted_under_connect_working_dir() -> None:
    references = _connector_file_references()
    assert references, "the connector reads no ${file:...} placeholders"
    working_dir = PurePosixPath(_services()["connect"]["working_dir"])
    targets = {PurePosixPath(target) for _, target in _mounts("connect")}
    for path, _key in references:
        resolved = PurePosixPath(path) if PurePosixPath(path).is_absolute() else working_dir / path
        assert resolved in targets, f"{resolved} is not mounted into connect"
        assert resolved.is_relative_to(working_dir), resolved


def test_every_connector_file_key_exists_in_postgres_properties() -> None:
    props = _properties(POSTGRES_PROPERTIES)
    for path, key in _connector_file_references():
        assert _connect_file_for(path) == POSTGRES_PROPERTIES.resolve(), path
        assert props.get(key), f"{key} missing or empty in {POSTGRES_PROPERTIES}"


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_our_services_env_points_at_compose_service_names(service: str) -> None:
    env = _env(service)
    services = _services()
    for key, (value, target) in SERVICE_ADDRESSES.items():
        assert env.get(key) == value, key
        assert target in services, f"{key}: {target} is not a compose service"


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_our_services_bind_all_interfaces(service: str) -> None:
    assert _env(service)["FARMACY_BIND_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container network


def test_command_and_query_ports_published_equal_settings_defaults() -> None:
    command_port = Settings.model_fields["command_port"].default
    query_port = Settings.model_fields["query_port"].default
    assert _published("command-api") == [(command_port, command_port)]
    assert _published("query-api") == [(query_port, query_port)]


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_every_sink_exposes_its_settings_health_port_unpublished_so_it_scales(view: str) -> None:
    # `farmacy scale VIEW N` runs N replicas of the service: a host port could be published by one of them only.
    port = Settings.model_fields["sink_port_base"].default + VIEW_NAMES.index(view)
    assert _published(f"sink-{view}") == []
    assert _services()[f"sink-{view}"]["expose"] == [str(port)]


def _health_port(service: str) -> int:
    if service.startswith("sink-"):
        return int(_services()[service]["expose"][0])
    ((_, container_port),) = _published(service)
    return container_port


@pytest.mark.parametrize("service", ["command-api", "query-api", *(worker_program(v) for v in VIEW_NAMES)])
def test_our_healthchecks_probe_health_on_the_published_port(service: str) -> None:
    container_port = _health_port(service)
    check = " ".join(_services()[service]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{container_port}/health" in check
