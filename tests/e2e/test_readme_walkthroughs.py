"""The README's walkthroughs, run as written against the stack: every fenced block the README marks with
`<!-- walkthrough: ROLE -->` is taken from README.md (none is copied here), run in bash from the repository root
after the `setup` block, and its outcome checked. Editing a walkthrough so that it no longer works fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from farmacy.settings import ROOT, Settings

pytestmark = pytest.mark.e2e
MARKED_BLOCK = re.compile(r"<!-- walkthrough: ([a-z]+) -->\n```bash\n(.*?)\n```", re.DOTALL)
ROLES = ("customer", "admin", "operator")
WALKTHROUGH_TIMEOUT_S = 600


def walkthroughs() -> dict[str, str]:
    """Role -> its commands, in README order (a role's blocks joined)."""
    blocks: dict[str, str] = {}
    for role, body in MARKED_BLOCK.findall((ROOT / "README.md").read_text()):
        blocks[role] = blocks.get(role, "") + body + "\n"
    return blocks


def run(stack: Settings, role: str) -> str:
    blocks = walkthroughs()
    script = "set -euo pipefail\n" + blocks["setup"] + blocks[role]
    env = {
        **os.environ,
        "COMMAND_API": f"http://127.0.0.1:{stack.command_port}",
        "QUERY_API": f"http://127.0.0.1:{stack.query_port}",
    }
    result = subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=WALKTHROUGH_TIMEOUT_S
    )
    assert result.returncode == 0, f"the {role} walkthrough failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_readme_marks_a_walkthrough_per_role_and_keeps_two_quick_start_commands() -> None:
    blocks = walkthroughs()
    assert set(blocks) == {"setup", *ROLES}
    quick_start = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("```bash\n", 1)[1]
    commands = [line for line in quick_start.split("```", 1)[0].splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["bin/farmacy up", "bin/farmacy test"]


def test_customer_finds_a_meal_sees_where_it_is_and_orders_it(stack: Settings) -> None:
    lines = json_lines(run(stack, "customer"))
    found = [line for line in lines if set(line) == {"name", "price_cents"}]
    assert "Salmon Poke" in [m["name"] for m in found]  # "salmon pokee": a typo, forgiven
    places = [line for line in lines if set(line) == {"code", "name", "distance_km"}]
    assert places, lines
    distances = [p["distance_km"] for p in places]
    assert distances == sorted(distances)  # nearest first
    assert {"status": "placed"}.items() <= lines[-2].items()
    assert lines[-1] == {
        "status": "placed",
        "location": places[0]["name"],
        "lines": [{"meal_name": "Salmon Poke", "quantity": 1}],
    }


def test_admin_restocks_a_fridge_and_reads_it_back(stack: Settings) -> None:
    lines = json_lines(run(stack, "admin"))
    before = next(line["before"] for line in lines if "before" in line)
    written = next(line for line in lines if "delta" in line)
    after = next(line["after"] for line in lines if "after" in line)
    assert written["delta"] == 6
    assert after["on_hand"] == before["on_hand"] + 6 == written["on_hand"]
    assert after["available"] == after["on_hand"] - after["reserved"]


def test_operator_checks_capture_and_dead_letters_replays_and_rebuilds(stack: Settings) -> None:
    output = run(stack, "operator")
    connector = next(line for line in json_lines(output) if "connector" in line)
    assert connector["connector"] == stack.connector_name
    assert connector["state"] == "RUNNING" and set(connector["tasks"]) == {"RUNNING"}
    assert re.search(r"^\d+ dead letter\(s\) shown, \d+ current$", output, re.MULTILINE), output
    assert re.search(r"^catalog: caught up, \d+ record\(s\) read again$", output, re.MULTILINE), output
    assert re.search(r"^catalog: \d+ documents into catalog-v\d+-\d+ .*alias swapped .*\(deleted\)$", output, re.M)
    assert re.search(r"^catalog +master=\d+ view=\d+ missing=0 extra=0 different=0$", output, re.MULTILINE), output
    assert re.search(r"^catalog: pre-flight passed \(mapping version \d+\)$", output, re.MULTILINE), output
