"""Where everything of the local stack lives: one directory holds binaries, configs, data and logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stack.versions import Versions


@dataclass(frozen=True)
class Layout:
    root: Path
    versions: Versions

    @property
    def dist(self) -> Path:
        return self.root / "dist"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def maven_repo(self) -> Path:
        return self.cache / "m2"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def conf(self) -> Path:
        return self.root / "conf"

    @property
    def kafka_libs(self) -> Path:
        return self.dist / f"kafka-{self.versions.kafka}" / "libs"

    @property
    def connect_plugins(self) -> Path:
        return self.dist / f"connect-plugins-debezium-{self.versions.debezium}"

    @property
    def elasticsearch_home(self) -> Path:
        return self.dist / f"elasticsearch-{self.versions.elasticsearch}"

    @property
    def hydra_home(self) -> Path:
        return self.dist / f"hydra-{self.versions.hydra}"

    @property
    def hydra_bin(self) -> Path:
        return self.hydra_home / "hydra"

    @property
    def supervisord_conf(self) -> Path:
        return self.conf / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run / "supervisor.sock"

    @property
    def supervisord_log(self) -> Path:
        """supervisord's own log: what it did with each process (spawned, exited and how, stopped, gave up)."""
        return self.logs / "supervisord.log"

    def ensure_dirs(self) -> None:
        for d in (self.dist, self.cache, self.data, self.logs, self.run, self.conf):
            d.mkdir(parents=True, exist_ok=True)
