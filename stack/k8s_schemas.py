"""Vendors the JSON schemas that kubeconform validates deploy/k8s/ against, so validation needs no download.

Two sources, both converted the way kubeconform's ``openapi2jsonschema`` does it:
- the Kubernetes API's OpenAPI v2 document (``api/openapi-spec/swagger.json`` of the pinned Kubernetes release):
  one standalone (every ``$ref`` inlined), strict (``additionalProperties: false``) schema per kind we use, named
  ``<kind>-<group>-<version>.json`` (``<kind>-<version>.json`` for the core group) under
  ``schemas/kubernetes/v<version>-standalone-strict/``;
- the operators' CustomResourceDefinitions (YAML): one strict schema per kind and served version, named
  ``<group>/<kind>_<version>.json`` under ``schemas/crds/``.

Only the kinds deploy/k8s/ uses are vendored (``KUBERNETES_KINDS``, ``CRD_KINDS``); kubeconform fails on a kind
without a schema, so adding a kind means adding it here and running::

    python -m stack.k8s_schemas --swagger .../swagger.json --crds CRD.yaml [CRD.yaml ...]
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from farmacy.settings import ROOT
from stack.versions import VERSIONS_FILE

SCHEMAS_DIR = ROOT / "deploy" / "k8s" / "schemas"
CRDS_DIR = SCHEMAS_DIR / "crds"

# (group, version, kind) of every built-in kind deploy/k8s/ uses; "" is the core group.
KUBERNETES_KINDS: tuple[tuple[str, str, str], ...] = (
    ("", "v1", "ConfigMap"),
    ("", "v1", "Namespace"),
    ("", "v1", "Service"),
    ("", "v1", "ServiceAccount"),
    ("apps", "v1", "Deployment"),
    ("autoscaling", "v2", "HorizontalPodAutoscaler"),
    ("batch", "v1", "CronJob"),
    ("batch", "v1", "Job"),
    ("networking.k8s.io", "v1", "NetworkPolicy"),
    ("policy", "v1", "PodDisruptionBudget"),
)
# (group, kind) of every custom resource deploy/k8s/ uses, with the operator that defines it.
CRD_KINDS: dict[tuple[str, str], str] = {
    ("kafka.strimzi.io", "Kafka"): "strimzi",
    ("kafka.strimzi.io", "KafkaNodePool"): "strimzi",
    ("kafka.strimzi.io", "KafkaConnect"): "strimzi",
    ("kafka.strimzi.io", "KafkaConnector"): "strimzi",
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): "eck",
    ("postgresql.cnpg.io", "Cluster"): "cloudnative_pg",
    ("postgresql.cnpg.io", "ScheduledBackup"): "cloudnative_pg",
    ("monitoring.coreos.com", "PodMonitor"): "prometheus_operator",
    ("keda.sh", "ScaledObject"): "keda",
    ("monitoring.coreos.com", "ServiceMonitor"): "prometheus_operator",
    ("monitoring.coreos.com", "PrometheusRule"): "prometheus_operator",
}
INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
QUANTITY = {"oneOf": [{"type": "string"}, {"type": "number"}]}
QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def kubernetes_dir(version: str) -> Path:
    return SCHEMAS_DIR / "kubernetes" / f"v{version}-standalone-strict"


def kubernetes_file_name(group: str, version: str, kind: str) -> str:
    """kubeconform's ``{{.ResourceKind}}{{.KindSuffix}}.json``: the group's first label, none for the core group."""
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def crd_file(group: str, kind: str, version: str) -> Path:
    """kubeconform's ``{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json``."""
    return CRDS_DIR / group / f"{kind.lower()}_{version}.json"


def _strict(node: Any) -> Any:
    """Closes every object that declares its type and properties (unless it says it keeps unknown fields) and turns the
    OpenAPI int-or-string markers into JSON schema."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if out.pop("x-kubernetes-int-or-string", False) or out.get("format") == "int-or-string":
        for key in ("type", "format", "anyOf"):
            out.pop(key, None)
        out.update(copy.deepcopy(INT_OR_STRING))
    # Only typed objects: a oneOf/anyOf branch that lists properties just to say which may appear stays open.
    if (
        "properties" in out
        and out.get("type") == "object"
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields", False)
    ):
        out["additionalProperties"] = False
    return out


def _inline(node: Any, definitions: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/definitions/")
        if name == QUANTITY_REF:
            return copy.deepcopy(QUANTITY)
        if name in seen:  # a recursive type (none among the kinds we use): left open
            return {}
        return _inline(definitions[name], definitions, (*seen, name))
    return {key: _inline(value, definitions, seen) for key, value in node.items()}


def kubernetes_schemas(swagger: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name -> standalone strict schema, for each of ``KUBERNETES_KINDS``."""
    definitions: dict[str, Any] = swagger["definitions"]
    by_gvk = {
        (gvk["group"], gvk["version"], gvk["kind"]): name
        for name, schema in definitions.items()
        for gvk in schema.get("x-kubernetes-group-version-kind", [])
    }
    out = {}
    for group, version, kind in KUBERNETES_KINDS:
        name = by_gvk[(group, version, kind)]
        schema = _strict(_inline(definitions[name], definitions, (name,)))
        api_version = f"{group}/{version}" if group else version
        schema["properties"]["apiVersion"] = {"type": "string", "enum": [api_version]}
        schema["properties"]["kind"] = {"type": "string", "enum": [kind]}
        schema["$schema"] = "http://json-schema.org/schema#"
        out[kubernetes_file_name(group, version, kind)] = schema
    return out


def crd_schemas(documents: Iterable[dict[str, Any]]) -> dict[Path, dict[str, Any]]:
    """Path -> strict schema for every served version of each CRD among ``CRD_KINDS``."""
    out = {}
    for crd in documents:
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        if (group, kind) not in CRD_KINDS:
            continue
        for version in crd["spec"]["versions"]:
            if not version.get("served", False):
                continue
            schema = _strict(version["schema"]["openAPIV3Schema"])
            schema["$schema"] = "http://json-schema.org/schema#"
            out[crd_file(group, kind, version["name"])] = schema
    return out


def _write(path: Path, schema: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")


def main() -> None:
    import tomllib

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--swagger", type=Path, help="swagger.json of the Kubernetes release pinned in versions.toml")
    parser.add_argument("--crds", type=Path, nargs="*", default=[], help="CRD YAML files of the pinned operators")
    args = parser.parse_args()
    pinned = tomllib.loads(VERSIONS_FILE.read_text())["kubernetes"]["schema_version"]
    if args.swagger:
        for name, schema in kubernetes_schemas(json.loads(args.swagger.read_text())).items():
            _write(kubernetes_dir(pinned) / name, schema)
    for crd_path in args.crds:
        for path, schema in crd_schemas(yaml.safe_load_all(crd_path.read_text())).items():
            _write(path, schema)
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
