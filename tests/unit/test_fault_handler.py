"""Every Python process of ours runs with the interpreter's fault handler on, wherever it runs: a sink worker once died
of SIGSEGV and left nothing in its log. Checked on what each deployment actually runs: the supervisord config as
`farmacy up` renders it, the Kubernetes workloads of deploy/k8s/base, the compose services and the image."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from supervisor.datatypes import dict_of_key_value_pairs
from supervisor.options import UnhosedConfigParser

from farmacy.settings import ROOT, Profile, Settings
from farmacy.views import VIEW_NAMES, worker_program
from stack.install import Installed
from stack.k8s_manifests import IMAGE, K8S_DIR
from stack.layout import Layout
from stack.render import SERVICES, render_all
from stack.system import Java, Monitoring
from stack.versions import load_versions

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py

# What farmacy/logs.py SERVICE_PYTHON_ENV must keep giving them, spelled out so that emptying it fails here.
FAULT_HANDLER = {"PYTHONFAULTHANDLER": "1"}


# --- supervisord (the local stack) ---------------------------------------------------------------------------------


def _rendered_programs(tmp_path: Path, settings: Settings) -> dict[str, dict[str, str]]:
    """[program:*] sections of the supervisord.conf that `farmacy up` writes for ``settings``, read as supervisord
    reads them; the installed engines are stand-ins (only their paths reach the config)."""
    layout = Layout(tmp_path / "stack", load_versions())
    layout.ensure_dirs()
    es_config = layout.elasticsearch_home / "config"
    es_config.mkdir(parents=True)
    for item in ("jvm.options", "log4j2.properties"):
        (es_config / item).write_text("")
    installed = Installed(
        java=Java(home=tmp_path / "java", major=17),
        pg_bindir=tmp_path / "pg" / "bin",
        monitoring=Monitoring(prometheus=tmp_path / "prometheus", alertmanager=tmp_path / "alertmanager"),
    )
    render_all(settings, layout, installed, user=None)
    parser = UnhosedConfigParser()
    parser.read_string(layout.supervisord_conf.read_text())
    return {
        section.removeprefix("program:"): dict(parser.items(section))
        for section in parser.sections()
        if section.startswith("program:")
    }


def _is_python(command: str) -> bool:
    return bool(re.fullmatch(r"python[\d.]*", Path(shlex.split(command)[0]).name))


@pytest.mark.parametrize("profile", list(Profile))
def test_every_supervised_python_program_runs_with_the_fault_handler(tmp_path: Path, profile: Profile) -> None:
    programs = _rendered_programs(tmp_path, Settings(_env_file=None, profile=profile))
    python = {name: section for name, section in programs.items() if _is_python(section["command"])}
    # Not vacuous: the services and every view's workers are among them (the engines are not Python).
    assert set(SERVICES) | {worker_program(v) for v in VIEW_NAMES} <= set(python), sorted(programs)
    without = {
        name: section.get("environment", "")
        for name, section in python.items()
        if not FAULT_HANDLER.items() <= dict_of_key_value_pairs(section.get("environment", "")).items()
    }
    assert without == {}, f"supervised Python programs without PYTHONFAULTHANDLER=1: {without}"


# --- Kubernetes ----------------------------------------------------------------------------------------------------


def _base_documents() -> list[dict[str, Any]]:
    base = K8S_DIR / "base"
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((base / resource).read_text()) if d]
    return docs


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def test_every_kubernetes_workload_of_ours_runs_with_the_fault_handler() -> None:
    """Our workloads are the Deployments, Jobs and CronJobs running our image; the engines are the operators' custom
    resources, which run no Python of ours."""
    workloads = [d for d in _base_documents() if d["kind"] in ("Deployment", "Job", "CronJob")]
    ours = {d["metadata"]["name"]: d for d in workloads if any(c["image"] == IMAGE for c in _pod_spec(d)["containers"])}
    assert {"command-api", "query-api", "ops-api", "watchdog", "migrate", "reconciler"} <= set(ours), sorted(ours)
    assert {worker_program(v) for v in VIEW_NAMES} <= set(ours), sorted(ours)
    assert set(ours) == {d["metadata"]["name"] for d in workloads}, "a workload runs another image: is it ours?"
    without = []
    for name, doc in ours.items():
        pod = _pod_spec(doc)
        for container in pod.get("initContainers", []) + pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if not FAULT_HANDLER.items() <= env.items():
                without.append(f"{doc['kind']} {name}, container {container['name']}")
    assert without == [], f"containers without PYTHONFAULTHANDLER=1: {without}"


# --- compose and the image -----------------------------------------------------------------------------------------


def test_every_compose_service_of_ours_runs_with_the_fault_handler() -> None:
    services: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == IMAGE}
    assert {"command-api", "query-api", "ops-api", "watchdog", "migrate", "register"} <= set(ours), sorted(ours)
    assert {worker_program(v) for v in VIEW_NAMES} <= set(ours), sorted(ours)
    without = [
        name
        for name, s in ours.items()
        if not FAULT_HANDLER.items() <= {k: str(v) for k, v in s.get("environment", {}).items()}.items()
    ]
    assert without == [], f"compose services without PYTHONFAULTHANDLER=1: {without}"


def test_the_image_turns_the_fault_handler_on_for_whatever_runs_it() -> None:
    env_lines = re.findall(r"^ENV\s+(?:.*\\\n)*.*$", (ROOT / "Dockerfile").read_text(), re.M)
    assert any(re.search(r"\bPYTHONFAULTHANDLER=1\b", line) for line in env_lines), env_lines


def test_no_service_reads_group_offsets_through_the_admin_client() -> None:
    """librdkafka's admin ListConsumerGroupOffsets dereferences a null consumer group when a broker answers
    NOT_COORDINATOR (a coordinator moving during a broker restart): a segmentation fault in one of its threads,
    which block signals, so the fault handler cannot even report it. Services read committed offsets through a
    consumer of the group instead (sinks/watermark.py, ops/status.py)."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("sinks", "ops", "api", "farmacy", "writemodel", "cli", "benchmarks", "stack")
        for path in (ROOT / package).rglob("*.py")
        if "list_consumer_group_offsets(" in path.read_text()
    ]
    assert offenders == []
