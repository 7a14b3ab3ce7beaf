"""monitoring/: the Prometheus config is valid, the alert rules pass their tests, and every metric the rules
and the dashboard use is one the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from farmacy.settings import ROOT

MONITORING = ROOT / "monitoring"
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
def test_alert_rules_pass_their_unit_tests() -> None:
    result = _promtool("test", "rules", "alerts_test.yml", cwd=MONITORING / "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = _exported_metric_names()
    rules = _used_metric_names((MONITORING / "alerts.yml").read_text())
    dashboard = json.loads((MONITORING / "dashboards" / "farmacy-sync.json").read_text())
    panels = _used_metric_names(" ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"]))
    assert rules and panels
    assert rules <= exported, rules - exported
    assert panels <= exported, panels - exported
