"""kube-score, the policy linter, on every overlay: each finding is fixed or listed here with the reason it stands.

An exemption names the check and the objects it covers (kind/name, or every object of the kind with "*"), in one
overlay or in all; an exemption that no longer matches a finding fails too, so the list cannot go stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from farmacy.settings import Settings
from farmacy.views import VIEW_NAMES, worker_program
from stack.k8s_tools import build, installed, lint, overlays

TOOLS = installed(Settings())
needs_tools = pytest.mark.skipif(
    TOOLS is None, reason="kustomize/kube-score missing: `bin/farmacy test` installs them (go install)"
)
SINKS = tuple(f"Deployment/{worker_program(v)}" for v in VIEW_NAMES)
SINGLETONS = ("Deployment/watchdog", "Deployment/reconciler")
OURS = ("Deployment/*", "Job/*")
ALL = ("small", "production")

# (check id, objects, overlays) -> why the finding stands.
EXEMPTIONS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {
    ("container-image-pull-policy", OURS, ALL): (
        "the image is addressed by a release tag that is never reused (overlays set it with `kustomize edit set "
        "image`); Always would pull it again at every start and make a registry outage stop restarts"
    ),
    ("deployment-replicas", SINGLETONS, ALL): (
        "one replica on purpose: the watchdog restarts connector tasks and the reconciler repairs drift, two at once "
        "would do both twice"
    ),
    ("deployment-replicas", SINKS, ALL): (
        "KEDA owns the count (ScaledObject: the count asked for, more on lag), so the Deployment states none"
    ),
    ("deployment-strategy", SINGLETONS, ALL): "Recreate: the old pod stops before the new one starts (the singletons)",
    ("horizontalpodautoscaler-replicas", ("HorizontalPodAutoscaler/*",), ("small",)): (
        "the small overlay runs one replica of each API (a staging cluster or a laptop)"
    ),
    ("networkpolicy-targets-pod", ("NetworkPolicy/postgres", "NetworkPolicy/elasticsearch"), ALL): (
        "they select the pods CloudNativePG and ECK create, which are not among the manifests"
    ),
    ("networkpolicy-targets-pod", ("NetworkPolicy/connect-rest", "NetworkPolicy/engine-metrics"), ALL): (
        "they select the Kafka and Connect pods Strimzi creates, which are not among the manifests"
    ),
}


def _matches(pattern: str, kind: str, name: str) -> bool:
    pattern_kind, pattern_name = pattern.split("/")
    return pattern_kind == kind and pattern_name in ("*", name)


def _findings(objects: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """(check id, kind, name, comment) of every check an object did not pass."""
    out = []
    for obj in objects:
        kind, name = obj["type_meta"]["kind"], obj["object_meta"]["name"]
        for check in obj["checks"]:
            if check["skipped"] or check["grade"] >= 10:
                continue
            comments = "; ".join(f"{c.get('summary', '')} {c.get('description', '')}" for c in check["comments"] or [])
            out.append((check["check"]["id"], kind, name, comments))
    return out


@needs_tools
@pytest.mark.parametrize("overlay", overlays(), ids=lambda p: p.name)
def test_policy_linter_passes_with_only_the_explained_exemptions(overlay: Path) -> None:
    assert TOOLS is not None
    manifests = build(TOOLS, overlay)
    objects = lint(TOOLS, manifests)
    scored = {(o["type_meta"]["kind"], o["object_meta"]["name"]) for o in objects}
    checked_kinds = {"Deployment", "Job", "Service", "NetworkPolicy", "PodDisruptionBudget", "HorizontalPodAutoscaler"}
    ours = {
        (d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(manifests) if d and d["kind"] in checked_kinds
    }
    assert ours <= scored, ours - scored
    findings = _findings(objects)
    exemptions = {key: reason for key, reason in EXEMPTIONS.items() if overlay.name in key[2]}
    used = set()
    unexplained = []
    for check, kind, name, comment in findings:
        matching = [key for key in exemptions if key[0] == check and any(_matches(p, kind, name) for p in key[1])]
        used.update(matching)
        if not matching:
            unexplained.append(f"{check} {kind}/{name}: {comment}")
    assert not unexplained, "\n".join(unexplained)
    assert set(exemptions) == used, f"exemptions that match no finding: {set(exemptions) - used}"


def test_every_exemption_is_explained() -> None:
    for (check, objects, where), reason in EXEMPTIONS.items():
        assert objects and where and set(where) <= set(ALL), check
        assert len(reason) > 40, check


@needs_tools
def test_the_linter_finds_a_container_without_a_security_context() -> None:
    assert TOOLS is not None
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bare"},
        "spec": {"containers": [{"name": "c", "image": "x:1"}]},
    }
    checks = {check for check, *_ in _findings(lint(TOOLS, yaml.safe_dump(pod)))}
    assert {"container-security-context-user-group-id", "container-security-context-readonlyrootfilesystem"} <= checks
    assert "container-seccomp-profile" in checks
