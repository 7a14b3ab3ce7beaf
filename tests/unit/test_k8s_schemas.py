"""The schema converter (stack/k8s_schemas.py) on small inputs: what it closes, what it leaves open."""

from __future__ import annotations

from typing import Any

from stack.k8s_schemas import (
    QUANTITY,
    QUANTITY_REF,
    crd_file,
    crd_schemas,
    kubernetes_file_name,
    kubernetes_schemas,
)


def _swagger() -> dict[str, Any]:
    return {
        "definitions": {
            "io.k8s.api.apps.v1.Deployment": {
                "type": "object",
                "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "spec": {"$ref": "#/definitions/spec"},
                },
            },
            "spec": {
                "type": "object",
                "properties": {
                    "port": {"type": "string", "format": "int-or-string"},
                    "memory": {"$ref": f"#/definitions/{QUANTITY_REF}"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            QUANTITY_REF: {"type": "string"},
        }
    }


def test_kubernetes_kind_is_inlined_closed_and_named_as_kubeconform_looks_it_up(monkeypatch: Any) -> None:
    monkeypatch.setattr("stack.k8s_schemas.KUBERNETES_KINDS", (("apps", "v1", "Deployment"),))
    (name, schema), *_ = kubernetes_schemas(_swagger()).items()
    spec = schema["properties"]["spec"]
    assert name == "deployment-apps-v1.json"
    assert schema["additionalProperties"] is False
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert spec["properties"]["memory"] == QUANTITY
    assert spec["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert schema["properties"]["apiVersion"]["enum"] == ["apps/v1"]


def test_core_and_grouped_kinds_get_kubeconforms_file_names() -> None:
    assert kubernetes_file_name("", "v1", "ConfigMap") == "configmap-v1.json"
    assert kubernetes_file_name("networking.k8s.io", "v1", "NetworkPolicy") == "networkpolicy-networking-v1.json"


def test_crd_is_closed_except_open_fields_and_property_lists_in_branches() -> None:
    crd = {
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "keda.sh",
            "names": {"kind": "ScaledObject"},
            "versions": [
                {
                    "name": "v1alpha1",
                    "served": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "free": {
                                            "type": "object",
                                            "x-kubernetes-preserve-unknown-fields": True,
                                            "properties": {"a": {"type": "string"}},
                                        },
                                        "size": {
                                            "x-kubernetes-int-or-string": True,
                                            "anyOf": [{"type": "integer"}, {"type": "string"}],
                                        },
                                        "volume": {
                                            "type": "object",
                                            "properties": {"secret": {"type": "object"}},
                                            "oneOf": [{"properties": {"secret": {}}}],
                                        },
                                    },
                                }
                            },
                        }
                    },
                },
                {"name": "v1beta1", "served": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
            ],
        },
    }
    schemas = crd_schemas([crd, {"kind": "ConfigMap"}])
    assert list(schemas) == [crd_file("keda.sh", "ScaledObject", "v1alpha1")]
    spec = schemas[crd_file("keda.sh", "ScaledObject", "v1alpha1")]["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["free"]
    assert spec["properties"]["size"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert spec["properties"]["volume"]["additionalProperties"] is False
    assert "additionalProperties" not in spec["properties"]["volume"]["oneOf"][0]
