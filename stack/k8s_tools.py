"""kustomize and kubeconform, the two Go tools that build and validate deploy/k8s/, at the versions pinned in
stack/versions.toml. ``go install`` puts them in the stack directory (so a fresh clone gets them from
``bin/farmacy test``); Go's own caches make a second install on the same machine take seconds."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from farmacy.settings import Settings
from stack.progress import step
from stack.system import StackSetupError, apt_install
from stack.versions import VERSIONS_FILE

GO_FALLBACK = Path("/usr/local/go/bin/go")


@dataclass(frozen=True)
class K8sTools:
    kustomize: Path
    kubeconform: Path
    kubernetes_version: str


def _pins() -> dict[str, str]:
    pins: dict[str, str] = tomllib.loads(VERSIONS_FILE.read_text())["kubernetes"]
    return pins


def tools_dir(settings: Settings) -> Path:
    """One directory per pair of versions, so changing a pin installs afresh."""
    pins = _pins()
    name = f"k8s-tools-kustomize-{pins['kustomize']}-kubeconform-{pins['kubeconform']}"
    return settings.stack_dir.resolve() / "dist" / name


def installed(settings: Settings) -> K8sTools | None:
    """The tools when they are installed, else None (the unit tests skip validation then)."""
    directory = tools_dir(settings)
    tools = K8sTools(directory / "kustomize", directory / "kubeconform", _pins()["schema_version"])
    return tools if tools.kustomize.exists() and tools.kubeconform.exists() else None


def _find_go() -> Path:
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
    go = _find_go()
    env = dict(os.environ, GOBIN=str(directory), GOTOOLCHAIN="local")
    if "HOME" not in env:  # go keeps its caches under HOME; without one, under the stack directory
        cache = settings.stack_dir.resolve() / "cache"
        env |= {"GOCACHE": str(cache / "go-build"), "GOPATH": str(cache / "go")}
    for tool in ("kustomize", "kubeconform"):
        if (directory / tool).exists():
            continue
        module = f"{pins[tool + '_module']}@{pins[tool]}"
        with step(f"go install {module}"):
            result = subprocess.run([str(go), "install", module], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise StackSetupError(f"go install {module} failed:\n{result.stderr[-3000:]}")
    tools = installed(settings)
    if tools is None:
        raise StackSetupError(f"kustomize or kubeconform missing from {directory} after go install")
    return tools


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
