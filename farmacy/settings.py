"""Typed settings for every process, read from the environment (prefix ``FARMACY_``) or ``.env``.

Each process builds its adapters from one ``Settings`` instance in its ``create_app`` / ``bootstrap``,
never at import time.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from farmacy.views import VIEW_NAMES

ROOT = Path(__file__).resolve().parent.parent
LOCAL_JWT_SECRET = "farmacy-local-only-signing-key-do-not-deploy"  # noqa: S105 - refused outside local mode
PLACEHOLDER_SECRETS = frozenset({"changethis", "change-me", LOCAL_JWT_SECRET, "farmacy", "secret", ""})


class Mode(StrEnum):
    LOCAL = "local"
    PRODUCTION = "production"


class WorkerControlKind(StrEnum):
    """What runs the sink workers, so operator tooling can stop and start them (ops/workers.py)."""

    SUPERVISOR = "supervisor"  # the local stack (bin/farmacy up)
    COMPOSE = "compose"  # docker-compose.yml


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FARMACY_", env_file=".env", extra="ignore")

    mode: Mode = Mode.LOCAL
    log_format: str = Field("json", pattern="^(json|console)$")
    log_level: str = "INFO"

    # The local stack: binaries, data and logs of every component live under this directory.
    stack_dir: Path = ROOT / ".stack"

    pg_host: str = "127.0.0.1"
    pg_port: int = 5442
    pg_database: str = "farmacy"
    pg_user: str = "farmacy"
    pg_password: SecretStr = SecretStr("farmacy")

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_bootstrap: str = "127.0.0.1:9092"
    connect_port: int = 8083
    connect_url: str = "http://127.0.0.1:8083"
    elasticsearch_port: int = 9200
    elasticsearch_url: str = "http://127.0.0.1:9200"
    elasticsearch_heap: str = "1g"
    kafka_heap: str = "512m"
    connect_heap: str = "768m"

    command_port: int = 8001
    query_port: int = 8002
    ops_port: int = 8003
    bind_host: str = "127.0.0.1"

    # Capture: topic names are "<topic_prefix>.<schema>.<table>".
    topic_prefix: str = "farmacy"
    connector_name: str = "farmacy-postgres-source"
    slot_name: str = "farmacy_views"  # must match connectors/*.json slot.name
    sync_index: str = "farmacy-sync"  # one document per view: the WAL position it has applied
    consistency_wait_s: float = Field(2.0, ge=0, le=30)

    # The views this stack runs (farmacy/views.py lists them all); each view's sink worker serves /health and
    # /metrics on sink_port_base + the view's index in this list.
    views: tuple[str, ...] = VIEW_NAMES
    sink_port_base: int = 8010
    watchdog_port: int = 8020
    sink_batch_size: int = Field(500, ge=1, le=10_000)
    sink_poll_timeout_s: float = Field(0.05, gt=0)
    sink_max_retries: int = Field(5, ge=0)
    sink_retry_backoff_s: float = Field(0.2, ge=0)

    worker_control: WorkerControlKind = WorkerControlKind.SUPERVISOR
    compose_project_dir: Path = ROOT

    jwt_secret: SecretStr = SecretStr(LOCAL_JWT_SECRET)

    @property
    def pg_dsn(self) -> str:
        return (
            f"host={self.pg_host} port={self.pg_port} dbname={self.pg_database} "
            f"user={self.pg_user} password={self.pg_password.get_secret_value()}"
        )

    @property
    def sqlalchemy_url(self) -> str:
        pw = self.pg_password.get_secret_value()
        return f"postgresql+psycopg://{self.pg_user}:{pw}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    def sink_port(self, view: str) -> int:
        return self.sink_port_base + self.views.index(view)

    @property
    def supervisor_socket(self) -> Path:
        """supervisord's XML-RPC socket in the local stack (stack/layout.py puts it there)."""
        return self.stack_dir.resolve() / "run" / "supervisor.sock"

    def topic(self, schema: str, table: str) -> str:
        return f"{self.topic_prefix}.{schema}.{table}"

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.mode is Mode.PRODUCTION:
            for name in ("pg_password", "jwt_secret"):
                value: SecretStr = getattr(self, name)
                if value.get_secret_value() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"FARMACY_{name.upper()} is a placeholder; set a real secret in production")
        return self
