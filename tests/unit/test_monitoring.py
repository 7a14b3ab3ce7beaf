"""monitoring/: the Prometheus config is valid, the alert rules pass their tests, every alert fires in a test with
the labels of the local scrape and in one with those of the Kubernetes scrape, and every metric the rules and the
dashboard use is one the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from farmacy.settings import ROOT
from farmacy.views import worker_program
from stack import k8s_manifests as km
from stack.manifests import repository_settings

MONITORING = ROOT / "monitoring"
RULE_TESTS = {
    "local": MONITORING / "tests" / "alerts_test.yml",
    "kubernetes": MONITORING / "tests" / "alerts_k8s_test.yml",
}
SETTINGS = repository_settings()
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `bin/farmacy test` installs it (Debian package prometheus)"
)


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, "only called from tests marked needs_promtool"
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True)


def _exported_metric_names() -> set[str]:
    names = set()
    for path in [
        *(ROOT / "sinks").glob("*.py"),
        ROOT / "api" / "common" / "observability.py",
        ROOT / "ops" / "watchdog.py",
        ROOT / "ops" / "engine_metrics.py",
        ROOT / "ops" / "reconciler.py",
    ]:
        names |= set(re.findall(r'"(farmacy_[a-z_]+)"', path.read_text()))
    return names


def _used_metric_names(text: str) -> set[str]:
    used = set(re.findall(r"\b(farmacy_[a-z_]+)\b", text))
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}


@needs_promtool
def test_prometheus_config_is_valid() -> None:
    result = _promtool("check", "config", "prometheus.yml", cwd=MONITORING)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
@pytest.mark.parametrize("scrape", RULE_TESTS)
def test_alert_rules_pass_their_unit_tests(scrape: str) -> None:
    result = _promtool("test", "rules", RULE_TESTS[scrape].name, cwd=MONITORING / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _alert_names() -> set[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}


def _rule_tests(scrape: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load(RULE_TESTS[scrape].read_text())["tests"]
    return tests


def _series_labels(series: str) -> tuple[str, dict[str, str]]:
    found = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}", series)
    assert found, series
    return found.group(1), dict(re.findall(r'([a-zA-Z_]\w*)="([^"]*)"', found.group(2)))


@pytest.mark.parametrize("scrape", RULE_TESTS)
def test_every_alert_fires_in_a_rule_test_of_each_scrape(scrape: str) -> None:
    tests = yaml.safe_load(RULE_TESTS[scrape].read_text())
    assert tests["rule_files"] == ["../alerts.yml"]
    fired = {
        case["alertname"] for test in _rule_tests(scrape) for case in test["alert_rule_test"] if case["exp_alerts"]
    }
    assert _alert_names() - fired == set(), f"alerts never fired in {RULE_TESTS[scrape].name}"


def _local_targets() -> dict[str, set[str]]:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    return {
        job["job_name"]: {t for static in job["static_configs"] for t in static["targets"]}
        for job in config["scrape_configs"]
    }


def _exporting_job(metric: str, labels: dict[str, str]) -> str:
    """The local job that serves ``metric`` (where its name is defined; the APIs' own label says which API)."""
    if metric == "up":
        return labels["job"]
    for path, job in [
        (ROOT / "sinks" / "metrics.py", "sinks"),
        (ROOT / "ops" / "engine_metrics.py", "watchdog"),
        (ROOT / "ops" / "watchdog.py", "watchdog"),
        (ROOT / "ops" / "reconciler.py", "reconciler"),
    ]:
        if f'"{re.sub(r"_(bucket|count|sum)$", "", metric)}"' in path.read_text():
            return job
    assert metric.startswith("farmacy_http_"), metric
    return labels.get("exported_service", labels.get("service", ""))


def test_local_rule_tests_carry_the_local_scrapes_labels() -> None:
    targets = _local_targets()
    for test in _rule_tests("local"):
        for item in test["input_series"]:
            metric, labels = _series_labels(item["series"])
            job = _exporting_job(metric, labels)
            assert labels["job"] == job, item["series"]
            assert labels["instance"] in targets[job], item["series"]
            if job == "sinks":
                assert labels["component"] == "sink"
                if "view" in labels:
                    assert labels["instance"].endswith(f":{SETTINGS.sink_port(labels['view'])}")
            assert not {"namespace", "pod", "container"} & set(labels), item["series"]


def _k8s_services() -> dict[str, dict[str, Any]]:
    """Service name -> (component label, container name, port) of the Services the ServiceMonitor scrapes."""
    workloads = [d for d in yaml.safe_load_all((km.GENERATED_DIR / "workloads.yaml").read_text()) if d]
    deployments = {d["metadata"]["name"]: d for d in workloads if d["kind"] == "Deployment"}
    out = {}
    for service in (d for d in workloads if d["kind"] == "Service"):
        name = service["metadata"]["name"]
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        out[name] = {
            "component": service["metadata"]["labels"]["app.kubernetes.io/component"],
            "container": container["name"],
            "port": container["ports"][0]["containerPort"],
        }
    return out


def test_kubernetes_rule_tests_carry_the_labels_of_the_service_monitors_scrape() -> None:
    services = _k8s_services()
    monitor = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / "servicemonitor.yaml").read_text())
    (endpoint,) = monitor["spec"]["endpoints"]
    (relabel,) = endpoint["relabelings"]
    assert relabel == {
        "sourceLabels": ["__meta_kubernetes_service_label_app_kubernetes_io_component"],
        "targetLabel": "component",
    }
    for test in _rule_tests("kubernetes"):
        for item in test["input_series"]:
            metric, labels = _series_labels(item["series"])
            job = _exporting_job(metric, labels)
            service = labels["service"]
            if job == "sinks":
                assert service in {worker_program(v) for v in SETTINGS.views}, item["series"]
                if "view" in labels:
                    assert service == worker_program(labels["view"])
            else:
                assert service == job, item["series"]
            expected = services[service]
            assert labels["namespace"] == "farmacy"
            assert labels["job"] == service
            assert labels["endpoint"] == endpoint["port"]
            assert labels["component"] == expected["component"]
            assert labels["container"] == expected["container"]
            assert re.fullmatch(rf"{re.escape(service)}-[a-z0-9]{{9,10}}-[a-z0-9]{{5}}", labels["pod"]), labels["pod"]
            assert re.fullmatch(rf"\d+\.\d+\.\d+\.\d+:{expected['port']}", labels["instance"]), labels["instance"]


def test_the_two_scrapes_rule_tests_are_the_same_cases() -> None:
    """Same inputs and times; only the labels differ (so a case changed in one is changed in the other)."""

    def shape(scrape: str) -> list[Any]:
        return [
            (
                test["interval"],
                [item["values"] for item in test["input_series"]],
                [(case["eval_time"], case["alertname"], len(case["exp_alerts"])) for case in test["alert_rule_test"]],
            )
            for test in _rule_tests(scrape)
        ]

    assert shape("local") == shape("kubernetes")


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = _exported_metric_names()
    rules = _used_metric_names((MONITORING / "alerts.yml").read_text())
    dashboard = json.loads((MONITORING / "dashboards" / "farmacy-sync.json").read_text())
    panels = _used_metric_names(" ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"]))
    assert rules and panels
    assert rules <= exported, rules - exported
    assert panels <= exported, panels - exported


# Debezium's streaming metrics (its connector-metrics MBean, context=streaming) that the dashboard may use.
DEBEZIUM_STREAMING = {
    "MilliSecondsBehindSource",
    "MilliSecondsSinceLastEvent",
    "TotalNumberOfEventsSeen",
    "QueueTotalCapacity",
    "QueueRemainingCapacity",
    "Connected",
}


def test_dashboard_uses_the_capture_metrics_that_connects_exporter_rules_produce() -> None:
    dashboard = json.loads((MONITORING / "dashboards" / "farmacy-sync.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = set(re.findall(r"\b(debezium_metrics_[a-z]+)\b", exprs))
    assert used, "the dashboard shows the capture's own metrics"
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "metrics.yaml").read_text())
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "connect-metrics"]
    config = yaml.safe_load(config_map["data"]["metrics-config.yml"])
    assert config["lowercaseOutputName"] is True
    (rule,) = [r for r in config["rules"] if r["pattern"].startswith("debezium.")]
    assert rule["name"] == "debezium_metrics_$4"
    mbean = "debezium.postgres<type=connector-metrics, context=streaming, server=farmacy><>MilliSecondsBehindSource"
    assert re.fullmatch(rule["pattern"], mbean)
    assert used <= {f"debezium_metrics_{name.lower()}" for name in DEBEZIUM_STREAMING}, used
