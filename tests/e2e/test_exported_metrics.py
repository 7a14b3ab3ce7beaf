"""Every metric the alert rules and the dashboard use is one the running services export: read from each
scrape target's /metrics (its # TYPE lines, so a labelled metric counts before its first sample)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from farmacy.settings import ROOT, Settings
from stack.manifests import scrape_targets

pytestmark = pytest.mark.e2e
MONITORING = ROOT / "monitoring"


def _exported(stack: Settings) -> set[str]:
    names: set[str] = set()
    for targets in scrape_targets(stack).values():
        for target in targets:
            text = httpx.get(f"http://{target}/metrics", timeout=10).raise_for_status().text
            names |= set(re.findall(r"^# TYPE (\w+) ", text, re.MULTILINE))
    # Counters are exposed as <name>_total with "# TYPE <name> counter"; histograms as _bucket/_count/_sum.
    return names | {f"{n}_total" for n in names}


def _used(text: str) -> set[str]:
    return {re.sub(r"_(bucket|count|sum)$", "", n) for n in re.findall(r"\b(farmacy_[a-z_]+)\b", text)}


def test_rules_and_dashboard_use_only_metrics_the_running_services_export(stack: Settings) -> None:
    exported = _exported(stack)
    dashboard = json.loads((MONITORING / "dashboards" / "farmacy-sync.json").read_text())
    panels = _used(" ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"]))
    rules = _used((MONITORING / "alerts.yml").read_text())
    assert panels and rules
    assert panels <= exported, sorted(panels - exported)
    assert rules <= exported, sorted(rules - exported)
