"""Installs the engines of the local stack: system packages first, then the JVM components from
Maven Central (through Maven, which verifies checksums and caches under the stack directory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from stack.layout import Layout
from stack.progress import say, step
from stack.system import Java, Monitoring, find_java, find_maven, find_monitoring, postgres_bindir

POM = Path(__file__).with_name("maven") / "pom.xml"
HYDRA_MODULE = Path(__file__).with_name("hydra")
DONE = ".installed"


@dataclass(frozen=True)
class Installed:
    java: Java
    pg_bindir: Path
    monitoring: Monitoring


def install(layout: Layout) -> Installed:
    layout.ensure_dirs()
    v = layout.versions
    with step("checking system packages (PostgreSQL server, Java, Prometheus, Alertmanager)"):
        pg_bindir = postgres_bindir(v)
        java = find_java(v)
        monitoring = find_monitoring(v)
    say(f"PostgreSQL binaries: {pg_bindir}; Java {java.major}: {java.home}")
    # Hydra compiles (CPU) while the JVM components download (network): it starts first and is waited for last.
    hydra = None if _done(layout.hydra_home) else HydraBuild(layout)
    try:
        if not _done(layout.kafka_libs.parent):
            _fetch_kafka(layout, java)
        if not _done(layout.connect_plugins):
            _fetch_debezium(layout, java)
        if not _done(layout.elasticsearch_home):
            _fetch_elasticsearch(layout, java)
    except BaseException:
        if hydra is not None:
            hydra.cancel()
        raise
    if hydra is not None:
        hydra.wait()
    return Installed(java=java, pg_bindir=pg_bindir, monitoring=monitoring)


def _done(path: Path) -> bool:
    return (path / DONE).exists()


def _mark_done(path: Path) -> None:
    (path / DONE).write_text("ok\n")


def _mvn(layout: Layout, java: Java, *args: str) -> None:
    mvn = find_maven()
    cmd = [str(mvn), "-B", "-q", f"-Dmaven.repo.local={layout.maven_repo}", *args]
    env = {"JAVA_HOME": str(java.home), "PATH": f"{java.home / 'bin'}:/usr/bin:/bin"}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"maven failed ({' '.join(args[:2])}):\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}")


def _fetch_artifact(layout: Layout, java: Java, coords: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    _mvn(layout, java, "dependency:copy", f"-Dartifact={coords}", f"-DoutputDirectory={dest}")
    files = list(dest.iterdir())
    if len(files) != 1:
        raise RuntimeError(f"expected one file for {coords} in {dest}, found {files}")
    return files[0]


def _fetch_kafka(layout: Layout, java: Java) -> None:
    v = layout.versions
    home = layout.kafka_libs.parent
    with step(f"fetching Kafka {v.kafka} broker + Connect runtime from Maven Central"):
        shutil.rmtree(home, ignore_errors=True)
        _mvn(
            layout,
            java,
            "-f",
            str(POM),
            f"-Dkafka.version={v.kafka}",
            f"-Dscala.binary={v.scala_binary}",
            f"-Dlog4j.version={v.log4j}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={layout.kafka_libs}",
            "-DincludeScope=runtime",
        )
        _mark_done(home)


def _fetch_debezium(layout: Layout, java: Java) -> None:
    v = layout.versions
    with step(f"fetching Debezium PostgreSQL connector {v.debezium} from Maven Central"):
        shutil.rmtree(layout.connect_plugins, ignore_errors=True)
        tmp = layout.cache / "debezium-download"
        shutil.rmtree(tmp, ignore_errors=True)
        archive = _fetch_artifact(
            layout, java, f"io.debezium:debezium-connector-postgres:{v.debezium}:tar.gz:plugin", tmp
        )
        layout.connect_plugins.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(layout.connect_plugins, filter="data")
        shutil.rmtree(tmp)
        _mark_done(layout.connect_plugins)


def _fetch_elasticsearch(layout: Layout, java: Java) -> None:
    v = layout.versions
    with step(f"fetching Elasticsearch {v.elasticsearch} (integ-test-zip) from Maven Central"):
        home = layout.elasticsearch_home
        shutil.rmtree(home, ignore_errors=True)
        tmp = layout.cache / "elasticsearch-download"
        shutil.rmtree(tmp, ignore_errors=True)
        archive = _fetch_artifact(
            layout, java, f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{v.elasticsearch}:zip", tmp
        )
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(layout.dist)  # noqa: S202 - zipfile strips absolute paths and ".." itself
            for info in zf.infolist():  # zipfile drops the executable bits
                mode = (info.external_attr >> 16) & 0o777
                if mode:
                    (layout.dist / info.filename).chmod(mode)
        shutil.rmtree(tmp)
        if not (home / "bin" / "elasticsearch").exists():
            raise RuntimeError(f"unexpected Elasticsearch archive layout under {layout.dist}")
        _mark_done(home)


class HydraBuild:
    """Builds Ory Hydra from the Go module proxy (stack/hydra/ pins it and every module it needs, go.sum), in a
    process of its own: started on creation, waited for by ``wait``."""

    def __init__(self, layout: Layout) -> None:
        from stack.k8s_tools import find_go

        self.layout = layout
        self.message = f"building Ory Hydra {layout.versions.hydra} (go build; modules from the Go module proxy)"
        say(f"{self.message}, beside the downloads ...")
        self.started = time.monotonic()
        shutil.rmtree(layout.hydra_home, ignore_errors=True)
        layout.hydra_home.mkdir(parents=True)
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=readonly -trimpath -buildvcs=false")
        if "HOME" not in env:  # go keeps its caches under HOME; without one, under the stack directory
            env |= {"GOCACHE": str(layout.cache / "go-build"), "GOPATH": str(layout.cache / "go")}
        self.log = layout.hydra_home / "build.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    str(find_go()),
                    "build",
                    "-ldflags",
                    f"-X github.com/ory/hydra/v2/driver/config.Version={layout.versions.hydra}",
                    "-o",
                    str(layout.hydra_bin),
                    ".",
                ],
                cwd=HYDRA_MODULE,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait(self) -> None:
        with step(f"{self.message}: waiting for it"):
            if self.process.wait() != 0:
                raise RuntimeError(f"building Hydra failed:\n{self.log.read_text()[-4000:]}")
        say(f"{self.message}: done in {time.monotonic() - self.started:.1f}s")
        _mark_done(self.layout.hydra_home)

    def cancel(self) -> None:
        self.process.kill()
        self.process.wait()
