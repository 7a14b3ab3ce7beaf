"""kustomize, kubeconform and kube-score, the Go tools that build, validate and lint deploy/k8s/, at the versions
pinned in stack/versions.toml. ``go install`` puts them in the stack directory (so a fresh clone gets them from
``bin/farmacy test``); Go's own caches make a second install on the same machine take seconds.

kustomize is pinned to the version kubectl's own module requires at the pinned kubectl release (``kubectl apply -k``
builds with that one): the installer keeps kubectl's go.mod beside the tools and refuses a pin that differs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farmacy.settings import Settings
from stack.progress import step
from stack.system import StackSetupError, apt_install
from stack.versions import VERSIONS_FILE

GO_FALLBACK = Path("/usr/local/go/bin/go")


TOOLS = ("kustomize", "kubeconform", "kube-score")
KUBECTL_GO_MOD = "kubectl.go.mod"


@dataclass(frozen=True)
class K8sTools:
    kustomize: Path
    kubeconform: Path
    kube_score: Path
    kubernetes_version: str
    kubectl_go_mod: Path


def _pins() -> dict[str, str]:
    pins: dict[str, str] = tomllib.loads(VERSIONS_FILE.read_text())["kubernetes"]
    return pins


def tools_dir(settings: Settings) -> Path:
    """One directory per pair of versions, so changing a pin installs afresh."""
    pins = _pins()
    name = "k8s-tools-" + "-".join(f"{tool}-{pins[tool]}" for tool in TOOLS)
    return settings.stack_dir.resolve() / "dist" / name


def installed(settings: Settings) -> K8sTools | None:
    """The tools when they are installed, else None (the unit tests skip validation then)."""
    directory = tools_dir(settings)
    tools = K8sTools(
        directory / "kustomize",
        directory / "kubeconform",
        directory / "kube-score",
        _pins()["schema_version"],
        directory / KUBECTL_GO_MOD,
    )
    paths = (tools.kustomize, tools.kubeconform, tools.kube_score, tools.kubectl_go_mod)
    return tools if all(path.exists() for path in paths) else None


def kubectl_module_version(kubectl: str) -> str:
    """kubectl v1.X.Y is released as the Go module k8s.io/kubectl v0.X.Y."""
    major, minor, patch = kubectl.removeprefix("v").split(".")
    assert major == "1", kubectl
    return f"v0.{minor}.{patch}"


def required_version(go_mod: str, module: str) -> str | None:
    """The version a go.mod requires of ``module`` (in a require block or on a require line)."""
    found = re.search(rf"^\s*(?:require\s+)?{re.escape(module)}\s+(v\S+)", go_mod, re.MULTILINE)
    return found.group(1) if found else None


def find_go() -> Path:
    if (found := shutil.which("go")) is not None:
        return Path(found)
    if GO_FALLBACK.exists():
        return GO_FALLBACK
    apt_install("golang-go")
    if (found := shutil.which("go")) is None:
        raise StackSetupError("go not found after installing golang-go")
    return Path(found)


def ensure_installed(settings: Settings) -> K8sTools:
    """Installs what is missing with ``go install MODULE@VERSION`` into the stack directory."""
    pins = _pins()
    directory = tools_dir(settings)
    go = find_go()
    env = dict(os.environ, GOBIN=str(directory), GOTOOLCHAIN="local")
    if "HOME" not in env:  # go keeps its caches under HOME; without one, under the stack directory
        cache = settings.stack_dir.resolve() / "cache"
        env |= {"GOCACHE": str(cache / "go-build"), "GOPATH": str(cache / "go")}
    for tool in TOOLS:
        if (directory / tool).exists():
            continue
        module = f"{pins[tool + '_module']}@{pins[tool]}"
        with step(f"go install {module}"):
            result = subprocess.run([str(go), "install", module], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackSetupError(f"go install {module} failed:\n{result.stderr[-3000:]}")
    if not (directory / KUBECTL_GO_MOD).exists():
        _fetch_kubectl_go_mod(go, env, pins, directory / KUBECTL_GO_MOD)
    tools = installed(settings)
    if tools is None:
        raise StackSetupError(f"one of {', '.join(TOOLS)} missing from {directory} after go install")
    return tools


def _fetch_kubectl_go_mod(go: Path, env: dict[str, str], pins: dict[str, str], target: Path) -> None:
    """Keeps the go.mod of the pinned kubectl release (a few kB from the module proxy) and checks the kustomize pin
    against it."""
    module = f"{pins['kubectl_module']}@{kubectl_module_version(pins['kubectl'])}"
    with step(f"go mod download {module} (its go.mod)"):
        result = subprocess.run(
            [str(go), "mod", "download", "-json", module], env=env, capture_output=True, text=True, cwd=target.parent
        )
    if result.returncode != 0:
        raise StackSetupError(f"go mod download {module} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    go_mod = Path(json.loads(result.stdout)["GoMod"]).read_text()
    required = required_version(go_mod, pins["kustomize_module"])
    if required != pins["kustomize"]:
        raise StackSetupError(
            f"kubectl {pins['kubectl']} builds in kustomize {required}, the pin is {pins['kustomize']}: "
            "change stack/versions.toml"
        )
    target.write_text(go_mod)


K8S_DIR = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
OVERLAYS_DIR = K8S_DIR / "overlays"
# kubeconform's layouts for the vendored schemas (stack/k8s_schemas.py writes them); no default location, so
# nothing is ever downloaded and a kind without a vendored schema fails validation.
SCHEMA_LOCATIONS = (
    str(
        K8S_DIR
        / "schemas"
        / "kubernetes"
        / "{{.NormalizedKubernetesVersion}}-standalone{{.StrictSuffix}}"
        / "{{.ResourceKind}}{{.KindSuffix}}.json"
    ),
    str(K8S_DIR / "schemas" / "crds" / "{{.Group}}" / "{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"),
)


def overlays() -> list[Path]:
    return sorted(p for p in OVERLAYS_DIR.iterdir() if (p / "kustomization.yaml").exists())


def kustomize_version(tools: K8sTools) -> str:
    result = subprocess.run([str(tools.kustomize), "version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def build(tools: K8sTools, overlay: Path) -> str:
    """``kustomize build`` of an overlay: the manifests as one YAML stream."""
    result = subprocess.run([str(tools.kustomize), "build", str(overlay)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {overlay} failed:\n{result.stderr}")
    return result.stdout


def validate(tools: K8sTools, manifests: str) -> subprocess.CompletedProcess[str]:
    """kubeconform -strict against the vendored schemas; the manifests come on standard input."""
    locations = [arg for location in SCHEMA_LOCATIONS for arg in ("-schema-location", location)]
    command = [
        str(tools.kubeconform),
        "-strict",
        "-summary",
        "-output",
        "text",
        "-kubernetes-version",
        tools.kubernetes_version,
        *locations,
        "-",
    ]
    return subprocess.run(command, input=manifests, capture_output=True, text=True)


def lint(tools: K8sTools, manifests: str) -> list[dict[str, Any]]:
    """kube-score's findings on the manifests (standard input): each object with the checks it did not pass.
    No CPU limits are asked for (see API_RESOURCES in stack/k8s_manifests.py); the seccomp check is switched on."""
    command = [
        str(tools.kube_score),
        "score",
        "--kubernetes-version",
        "v" + ".".join(tools.kubernetes_version.split(".")[:2]),
        "--ignore-container-cpu-limit",
        "--enable-optional-test",
        "container-seccomp-profile",
        "--output-format",
        "json",
        "-",
    ]
    result = subprocess.run(command, input=manifests, capture_output=True, text=True)
    if not result.stdout.strip():
        raise RuntimeError(f"kube-score failed:\n{result.stderr}")
    objects: list[dict[str, Any]] = json.loads(result.stdout)
    return objects
