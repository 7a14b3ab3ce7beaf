"""Every alert rule has a runbook row in the README (its table under "Operator runbooks"), and every row names a
rule that exists: adding or renaming an alert without saying what to do fails here."""

from __future__ import annotations

import re

import yaml

from farmacy.settings import ROOT


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    section = (ROOT / "README.md").read_text().split("### Operator runbooks", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| [^|]+ \|$", section, re.MULTILINE)
    assert len(rows) == len(set(rows)), "an alert has two rows"
    assert set(rows) == alerts
