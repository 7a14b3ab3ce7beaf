"""Reads stack/versions.toml, the one place engine versions are pinned."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.toml")


@dataclass(frozen=True)
class Versions:
    java_min_major: int
    java_package: str
    postgres_min_major: int
    postgres_package: str
    kafka: str
    scala_binary: str
    log4j: str
    debezium: str
    elasticsearch: str
    prometheus_package: str
    prometheus: str
    alertmanager_package: str
    alertmanager: str
    hydra_module: str
    hydra: str
    images: dict[str, str]


def load_versions(path: Path = VERSIONS_FILE) -> Versions:
    data = tomllib.loads(path.read_text())
    return Versions(
        java_min_major=int(data["java"]["min_major"]),
        java_package=data["java"]["debian_package"],
        postgres_min_major=int(data["postgresql"]["min_major"]),
        postgres_package=data["postgresql"]["debian_package"],
        kafka=data["kafka"]["version"],
        scala_binary=data["kafka"]["scala_binary"],
        log4j=data["kafka"]["log4j"],
        debezium=data["debezium"]["version"],
        elasticsearch=data["elasticsearch"]["version"],
        prometheus_package=data["prometheus"]["debian_package"],
        prometheus=data["prometheus"]["version"],
        alertmanager_package=data["alertmanager"]["debian_package"],
        alertmanager=data["alertmanager"]["version"],
        hydra_module=data["hydra"]["module"],
        hydra=data["hydra"]["version"],
        images={name: section["image"] for name, section in data.items() if "image" in section},
    )
