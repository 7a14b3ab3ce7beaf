"""Finds (and on Debian, installs) the system pieces: PostgreSQL server, a JDK, Maven, a service user."""

from __future__ import annotations

import functools
import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack.progress import say, step
from stack.versions import Versions

STACK_USER = "farmacy-stack"


class StackSetupError(RuntimeError):
    """The machine lacks something the stack needs and it could not be installed."""


def is_root() -> bool:
    return os.geteuid() == 0


@functools.cache
def _apt_updated() -> bool:
    with step("apt-get update"):
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
    return True


def apt_install(*packages: str) -> None:
    if not is_root() or shutil.which("apt-get") is None:
        raise StackSetupError(
            f"missing {' '.join(packages)}: install it with your package manager "
            f"(on Debian/Ubuntu: sudo apt-get install -y {' '.join(packages)}) and run again"
        )
    _apt_updated()
    with step(f"apt-get install {' '.join(packages)}"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )


def _pg_bindirs() -> list[Path]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    if (pg_config := shutil.which("pg_config")) is not None:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False).stdout
        if out.strip():
            found.insert(0, Path(out.strip()))
    return [d for d in found if (d / "postgres").exists() and (d / "initdb").exists()]


def postgres_bindir(versions: Versions) -> Path:
    for candidate in _pg_bindirs():
        major = _pg_major(candidate)
        if major >= versions.postgres_min_major:
            return candidate
    apt_install(versions.postgres_package)
    for candidate in _pg_bindirs():
        if _pg_major(candidate) >= versions.postgres_min_major:
            return candidate
    raise StackSetupError("PostgreSQL server binaries not found after install")


def _pg_major(bindir: Path) -> int:
    out = subprocess.run([bindir / "postgres", "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else 0


@dataclass(frozen=True)
class Java:
    home: Path
    major: int

    @property
    def bin(self) -> Path:
        return self.home / "bin" / "java"


def _probe_java(java: Path) -> Java | None:
    try:
        out = subprocess.run(
            [java, "-XshowSettings:properties", "-version"], capture_output=True, text=True, timeout=30
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    home = re.search(r"java\.home = (.+)", out)
    version = re.search(r"java\.specification\.version = (\d+)", out)
    if not home or not version:
        return None
    return Java(Path(home.group(1).strip()), int(version.group(1)))


def find_java(versions: Versions) -> Java:
    candidates: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    if (on_path := shutil.which("java")) is not None:
        candidates.append(Path(on_path))
    candidates += sorted(Path("/usr/lib/jvm").glob("*/bin/java"))
    for c in candidates:
        java = _probe_java(c)
        if java and java.major >= versions.java_min_major:
            return java
    apt_install(versions.java_package)
    for c in sorted(Path("/usr/lib/jvm").glob("*/bin/java")):
        java = _probe_java(c)
        if java and java.major >= versions.java_min_major:
            return java
    raise StackSetupError(f"no Java {versions.java_min_major}+ found after install")


def find_maven() -> Path:
    if (mvn := shutil.which("mvn")) is None:
        apt_install("maven")
        mvn = shutil.which("mvn")
    if mvn is None:
        raise StackSetupError("Maven not found after install")
    return Path(mvn)


def service_user() -> str | None:
    """The user the engines run as. PostgreSQL and Elasticsearch refuse to run as root, so when the
    stack is started by root it runs them as a dedicated system user; otherwise as the caller."""
    if not is_root():
        return None
    try:
        pwd.getpwnam(STACK_USER)
    except KeyError:
        say(f"creating system user {STACK_USER} for the engines (they refuse to run as root)")
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", STACK_USER], check=True
        )
    return STACK_USER


def chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def find_promtool() -> Path:
    """promtool checks the Prometheus config and runs the alert-rule tests (Debian's prometheus package)."""
    if (found := shutil.which("promtool")) is None:
        apt_install("prometheus")
        found = shutil.which("promtool")
    if found is None:
        raise StackSetupError("promtool not found after installing prometheus")
    return Path(found)


@dataclass(frozen=True)
class Monitoring:
    prometheus: Path
    alertmanager: Path


def _debian_binary(name: str, package: str, pinned: str) -> Path:
    """The binary of a Debian package, installed when missing; warns when its version is not the pinned one."""
    if (found := shutil.which(name)) is None:
        apt_install(package)
        found = shutil.which(name)
    if found is None:
        raise StackSetupError(f"{name} not found after installing {package}")
    out = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    if match and match.group(1) != pinned:
        say(f"{name} is version {match.group(1)}; stack/versions.toml pins {pinned} (tested with that one)")
    return Path(found)


def find_monitoring(versions: Versions) -> Monitoring:
    """Prometheus and Alertmanager from the distribution's packages (Debian: prometheus, prometheus-alertmanager)."""
    return Monitoring(
        prometheus=_debian_binary("prometheus", versions.prometheus_package, versions.prometheus),
        alertmanager=_debian_binary("prometheus-alertmanager", versions.alertmanager_package, versions.alertmanager),
    )


def find_chromium() -> Path:
    """The browser tests drive Debian's chromium (with chromium-driver) headless; nothing is downloaded at test time."""
    if (found := shutil.which("chromium")) is None or shutil.which("chromedriver") is None:
        apt_install("chromium", "chromium-driver")
        found = shutil.which("chromium")
    if found is None:
        raise StackSetupError("chromium not found after installing it")
    return Path(found)
