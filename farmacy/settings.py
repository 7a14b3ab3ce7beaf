"""Typed settings for every process, read from the environment (prefix ``FARMACY_``) or ``.env``.

Each process builds its adapters from one ``Settings`` instance in its ``create_app`` / ``bootstrap``,
never at import time.

Two rules keep two stacks on one machine apart (docs/two-stacks.md):
- every address is derived from a host and a port unless it is set explicitly (``kafka_bootstrap``,
  ``connect_url``, ``elasticsearch_url``), so changing a port alone cannot leave a URL pointing at another stack;
- every cluster-level name (Connect's group and internal topics, consumer groups, topic prefix, replication slot,
  connector, sync index, dead-letter topics, Elasticsearch cluster) is derived from ``stack_name``.
The publication is not among them: the first migration creates it as ``farmacy_views``, and it belongs to one
database, so two stacks (two PostgreSQL clusters) never share it.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

import httpx
from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import URL

from farmacy.db_roles import ROLES, DbRole
from farmacy.views import VIEW_NAMES

ROOT = Path(__file__).resolve().parent.parent
LOCAL_JWT_SECRET = "farmacy-local-only-signing-key-do-not-deploy"  # noqa: S105 - refused outside local mode
LOCAL_ALERT_WEBHOOK_SECRET = "farmacy-local-only-alert-webhook"  # noqa: S105 - refused outside local mode
PLACEHOLDER_SECRETS = frozenset(
    {"changethis", "change-me", LOCAL_JWT_SECRET, LOCAL_ALERT_WEBHOOK_SECRET, "farmacy", "secret", ""}
)
# Lower case, so that one name is valid as a Kafka topic, an Elasticsearch index and (with '-' as '_') a slot.
STACK_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,39}$"


class Mode(StrEnum):
    LOCAL = "local"
    PRODUCTION = "production"


class Profile(StrEnum):
    """The local stack's shape (`farmacy up --profile`): one node of each engine, or several (docs/deploy.md)."""

    SINGLE = "single"
    CLUSTER = "cluster"


# What the cluster profile runs, where a setting is not given: three Kafka brokers (each topic replicated 3 times,
# written when 2 have it), two Kafka Connect workers in one group, two Elasticsearch data nodes (each view shard
# with one replica) and a master-only tiebreaker, so that losing either data node leaves a master.
CLUSTER_SIZES = {
    "kafka_brokers": 3,
    "kafka_min_insync_replicas": 2,
    "connect_workers": 2,
    "elasticsearch_nodes": 2,
    "view_replicas": 1,
    "sink_workers": 2,
}
SINGLE_SIZES = {
    "kafka_brokers": 1,
    "kafka_min_insync_replicas": 1,
    "connect_workers": 1,
    "elasticsearch_nodes": 1,
    "view_replicas": 0,
    # One worker per view: each worker has fixed costs (its polls, slot observations, publications, refreshes), and
    # one keeps up with a small machine's rates. `farmacy scale VIEW N` runs more, up to the partitions.
    "sink_workers": 1,
}
# Ports of a second, third, ... Kafka broker (and its controller listener) and Kafka Connect worker: 100 apart.
# Elasticsearch nodes take consecutive HTTP and transport ports (9200, 9201; 9300, 9301), the tiebreaker next.
NODE_PORT_STRIDE = 100


class WorkerControlKind(StrEnum):
    """What runs the sink workers: where `farmacy scale` applies a view's worker count (replay and rebuild need none
    of them: the running workers carry those out, sinks/control.py)."""

    SUPERVISOR = "supervisor"  # the local stack (bin/farmacy up): the count is rendered into supervisord's config
    COMPOSE = "compose"  # docker-compose.yml: docker compose up --scale
    KUBERNETES = "kubernetes"  # KEDA follows the count the workers report (docs/deploy.md): nothing to apply


def http_url(host: str, port: int) -> str:
    """``http://host:port`` without a trailing slash (callers append paths); IPv6 hosts get their brackets."""
    return str(httpx.URL(scheme="http", host=host, port=port))


# default_factory with one parameter receives the fields validated so far (those declared above the field).
def _stack_dir(data: dict[str, Any]) -> Path:
    return ROOT / (".stack-cluster" if data["profile"] == Profile.CLUSTER else ".stack")


def _size(name: str) -> Any:
    def default(data: dict[str, Any]) -> int:
        return (CLUSTER_SIZES if data["profile"] == Profile.CLUSTER else SINGLE_SIZES)[name]

    return default


def _kafka_bootstrap(data: dict[str, Any]) -> str:
    """Every broker of the stack (a client needs one to answer; it learns the others from it)."""
    host = data["kafka_host"]
    host = f"[{host}]" if ":" in host else host
    return ",".join(f"{host}:{data['kafka_port'] + NODE_PORT_STRIDE * i}" for i in range(data["kafka_brokers"]))


def _connect_url(data: dict[str, Any]) -> str:
    return http_url(data["connect_host"], data["connect_port"])


def _elasticsearch_url(data: dict[str, Any]) -> str:
    return http_url(data["elasticsearch_host"], data["elasticsearch_port"])


def _prometheus_url(data: dict[str, Any]) -> str:
    return http_url(data["prometheus_host"], data["prometheus_port"])


def _alertmanager_url(data: dict[str, Any]) -> str:
    return http_url(data["alertmanager_host"], data["alertmanager_port"])


def _oidc_issuer(data: dict[str, Any]) -> str:
    return http_url(data["identity_host"], data["identity_port"])


def _oidc_jwks_url(data: dict[str, Any]) -> str:
    return f"{data['oidc_issuer'].rstrip('/')}/.well-known/jwks.json"


def _topic_prefix(data: dict[str, Any]) -> str:
    return str(data["stack_name"])


def _connector_name(data: dict[str, Any]) -> str:
    return f"{data['stack_name']}-postgres-source"


def _slot_name(data: dict[str, Any]) -> str:
    # PostgreSQL slot names allow lower-case letters, digits and '_' only.
    return f"{data['stack_name'].replace('-', '_')}_views"


def _sync_index(data: dict[str, Any]) -> str:
    return f"{data['stack_name']}-sync"


# Ports of a view's second, third, ... worker: 100 apart, so they never meet another view's or the watchdog's.
SINK_WORKER_PORT_STRIDE = 100


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FARMACY_", env_file=".env", extra="ignore")

    mode: Mode = Mode.LOCAL
    log_format: str = Field("json", pattern="^(json|console)$")
    log_level: str = "INFO"

    # Names everything one stack shares with nobody else: the cluster-level names below derive from it.
    stack_name: str = Field("farmacy", pattern=STACK_NAME_PATTERN)
    # The engines' shape: `single` (default) or `cluster`, which sets the sizes below unless they are given.
    profile: Profile = Profile.SINGLE
    # The local stack: binaries, data and logs of every component live under this directory (the cluster
    # profile's own by default: its brokers cannot take over a one-broker stack's data).
    stack_dir: Path = Field(default_factory=_stack_dir)

    pg_host: str = "127.0.0.1"
    pg_port: int = 5442
    pg_database: str = "farmacy"
    # The role this process logs in as: the owner for the tools (migrations, setup, tests); each service its own
    # (farmacy/db_roles.py), set per program by the stack and per workload on Kubernetes.
    pg_user: str = "farmacy"
    pg_password: SecretStr = SecretStr("farmacy")
    # The local stack's passwords of the services' roles (it creates the roles with them; farmacy/db_roles.py).
    pg_command_password: SecretStr = SecretStr("farmacy-command")
    pg_reader_password: SecretStr = SecretStr("farmacy-reader")
    pg_ops_password: SecretStr = SecretStr("farmacy-ops")
    pg_capture_password: SecretStr = SecretStr("farmacy-capture")

    kafka_brokers: int = Field(default_factory=_size("kafka_brokers"), ge=1, le=9)
    # Replication factor of every topic (Connect's own, the capture topics, dead letters): one per broker, at most 3.
    kafka_min_insync_replicas: int = Field(default_factory=_size("kafka_min_insync_replicas"), ge=1, le=9)
    connect_workers: int = Field(default_factory=_size("connect_workers"), ge=1, le=9)
    elasticsearch_nodes: int = Field(default_factory=_size("elasticsearch_nodes"), ge=1, le=9)
    # Replicas of every view index's shard (and of the sync index): at most the nodes - 1, or some stay unassigned
    # (Kubernetes sets it for its Elasticsearch cluster, whose nodes elasticsearch_nodes does not count).
    view_replicas: int = Field(default_factory=_size("view_replicas"), ge=0, le=8)

    # Each address is derived from its host and port unless set explicitly (docker-compose.yml sets them).
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_bootstrap: str = Field(default_factory=_kafka_bootstrap)
    connect_host: str = "127.0.0.1"
    connect_port: int = 8083
    connect_url: str = Field(default_factory=_connect_url)
    elasticsearch_host: str = "127.0.0.1"
    elasticsearch_port: int = 9200
    elasticsearch_transport_port: int = 9300
    elasticsearch_url: str = Field(default_factory=_elasticsearch_url)
    # Heaps sized for the local dataset with room for load (used, warm after a 150 changes/s run: Elasticsearch
    # ~200 MB, Connect ~185 MB, Kafka ~310 MB); Elasticsearch touches its whole heap at start (AlwaysPreTouch).
    elasticsearch_heap: str = "640m"
    kafka_heap: str = "512m"
    connect_heap: str = "512m"

    command_port: int = 8001
    query_port: int = 8002
    ops_port: int = 8003
    bind_host: str = "127.0.0.1"

    # Capture: topic names are "<topic_prefix>.<schema>.<table>". Each of these can be set on its own; by default
    # they derive from stack_name. The connector JSON reads them through ${settings:...} (farmacy/connect.py).
    topic_prefix: str = Field(default_factory=_topic_prefix)
    connector_name: str = Field(default_factory=_connector_name)
    slot_name: str = Field(default_factory=_slot_name)
    sync_index: str = Field(default_factory=_sync_index)  # one document per view: the WAL position it has applied
    consistency_wait_s: float = Field(2.0, ge=0, le=30)
    # How long a command waits for a database connection before answering 503 (the master away or saturated).
    command_db_wait_s: float = Field(3.0, gt=0, le=60)
    # API server processes (uvicorn workers); 0 = one per CPU core. One by default: an API's share of a request is
    # a fraction of the engines' (a search costs the query API about a fifth of what it costs Elasticsearch), so one
    # process keeps up with what the engines beside it on the same cores can do, and it serves each request with
    # less CPU than two processes do (one event loop answering more requests per wake-up, metrics in memory instead
    # of per-process files, no supervising process): docs/benchmarks.md. More processes for a machine with cores to
    # spare; on Kubernetes, more replicas.
    query_workers: int = Field(1, ge=0, le=64)
    command_workers: int = Field(1, ge=0, le=64)
    # The query API's request to Elasticsearch not answered by then is an outage: 503 with Retry-After (a hung
    # engine must not hold clients).
    api_es_timeout_s: float = Field(2.0, gt=0, le=60)
    # How often the query API re-reads every view's published position (read-your-writes never trusts it alone: a
    # token the cached position does not cover reads the sync document itself). What a read without a token reports
    # is a lower bound either way; the sinks publish at most every sink_publish_interval_s while changes flow.
    watermark_refresh_s: float = Field(0.5, gt=0, le=10)
    # The query API logs a request at INFO when it fails (status 400 and above) or takes this long; quicker
    # successful ones only at DEBUG (the metrics count them all). 0: every request at INFO.
    query_request_log_ms: float = Field(250.0, ge=0)
    # How long an Idempotency-Key (and its stored response) is kept.
    idempotency_ttl_s: int = Field(86_400, ge=60)

    # Partitions of every capture topic (the connector creates them so; sink workers add partitions to a topic that
    # has fewer). A view runs at most this many workers usefully: each partition is read by one worker of its group.
    topic_partitions: int = Field(4, ge=1, le=256)
    # The views this stack runs (farmacy/views.py lists them all). Each runs sink_workers workers in one consumer
    # group (`farmacy scale VIEW N` changes it per view); worker i of a view serves /health and /metrics on
    # sink_port_base + the view's index in this list + 100 * i.
    views: tuple[str, ...] = VIEW_NAMES
    sink_workers: int = Field(default_factory=_size("sink_workers"), ge=1, le=64)
    sink_port_base: int = 8010
    watchdog_port: int = 8020
    # Records a worker takes per batch at most (fewer when they arrive slower than that): a big batch when behind
    # makes one rebuild and one round of _bulk for many changes, and changes to one root count once.
    sink_batch_size: int = Field(2000, ge=1, le=20_000)
    # A batch's documents go to Elasticsearch in _bulk requests of at most this many bytes.
    sink_bulk_max_bytes: int = Field(4 << 20, ge=1 << 16, le=100 << 20)
    # After a batch's first record, how long the worker gathers more (a quiet worker waits for the first record in
    # one poll of up to sink_idle_poll_s, woken at once when a record arrives).
    sink_poll_timeout_s: float = Field(0.05, gt=0)
    sink_idle_poll_s: float = Field(1.0, gt=0, le=10)
    # How often a worker reads the replication slot's confirmed position while its topics are quiet (after a batch
    # it reads it every 10 ms for half a second: that is when its commit is confirmed). Heartbeats move it once a
    # second, so reading it more often than that idle only costs.
    sink_observe_interval_s: float = Field(0.5, gt=0, le=10)
    # ... and how often for half a second after a batch: each observation is a query to the master and, when the
    # slot moved, a request for the end offsets of the view's partitions. Positions are published at most every
    # sink_publish_interval_s, so observing far more often than that only costs (10 ms was 100 queries a second
    # per busy worker).
    sink_observe_busy_s: float = Field(0.05, gt=0, le=1)
    # A worker refreshes its view and publishes its position at most this often while changes flow (the first
    # change after a quiet spell at once): the refresh and the publication are a cost per interval, not per batch.
    # Each refresh writes a segment that is merged later; refreshes and merges, not indexing, were most of
    # Elasticsearch's cost per change. The views' own refresh_interval (5 s) is only a backstop for other writers.
    sink_publish_interval_s: float = Field(0.3, ge=0, le=5)
    sink_max_retries: int = Field(5, ge=0)
    sink_retry_backoff_s: float = Field(0.2, ge=0)
    # An Elasticsearch request that has not answered by then counts as an outage (retried). Not a short bound: an
    # abandoned _bulk keeps running inside Elasticsearch, so retrying a slow one early only piles work onto an
    # overloaded node. A hang shows in health after sink_stall_after_s anyway (a batch in flight that long).
    sink_es_timeout_s: float = Field(30.0, gt=0)
    # Health reports degraded when a batch has been in flight, or the published position has not moved, this long.
    sink_stall_after_s: float = Field(10.0, gt=0)

    # Monitoring (issue 11): Prometheus and Alertmanager run in the local stack; the ops API receives notifications.
    prometheus_host: str = "127.0.0.1"
    prometheus_port: int = 9090
    prometheus_url: str = Field(default_factory=_prometheus_url)
    alertmanager_host: str = "127.0.0.1"
    alertmanager_port: int = 9095  # not Alertmanager's usual 9093: that is Kafka's controller port here
    alertmanager_url: str = Field(default_factory=_alertmanager_url)
    # Alertmanager presents this bearer secret to the ops API's webhook receiver (which, in production, refuses
    # every notification while it is the local placeholder).
    alert_webhook_secret: SecretStr = SecretStr(LOCAL_ALERT_WEBHOOK_SECRET)
    # Optional outgoing notifications, rendered into Alertmanager's config: a Slack-compatible incoming webhook,
    # and e-mail through Alertmanager's own SMTP client.
    alert_outgoing_webhook_url: str | None = None
    alert_email_to: str | None = None
    alert_email_from: str = "farmacy-alerts@localhost"
    alert_smtp_smarthost: str = "127.0.0.1:25"  # host:port
    # Scheduled reconciliation (ops/reconciler.py): how often each view is compared with the master, and
    # whether drift found twice in a row is repaired.
    reconciler_port: int = 8021
    reconcile_interval_s: float = Field(300.0, gt=0)
    reconcile_repair: bool = False

    worker_control: WorkerControlKind = WorkerControlKind.SUPERVISOR
    compose_project_dir: Path = ROOT

    # Signs the ops console's session cookies; and HS256 bearer tokens, when auth_hs256 allows them.
    jwt_secret: SecretStr = SecretStr(LOCAL_JWT_SECRET)

    # Identity (docs/architecture.md, "Identity"): bearer tokens are issued by an OpenID Connect provider and checked
    # against the keys it publishes. The local stack runs Ory Hydra (public port: tokens and keys; admin port:
    # clients, logins, keys, for local tooling only); a deployment sets the issuer, audience and key set URL of its
    # own provider.
    identity_host: str = "127.0.0.1"
    identity_port: int = 4444
    identity_admin_port: int = 4445
    oidc_issuer: str = Field(default_factory=_oidc_issuer)
    oidc_audience: str = "farmacy-api"
    oidc_jwks_url: str = Field(default_factory=_oidc_jwks_url)
    oidc_algorithms: tuple[str, ...] = ("RS256", "ES256")
    # Where the role and the customer id are in the provider's tokens: a claim name or a dotted path.
    oidc_role_claim: str = "role"
    oidc_customer_id_claim: str = "customer_id"
    # Clock skew allowed on exp / nbf / iat.
    oidc_leeway_s: float = Field(30.0, ge=0, le=300)
    # The provider's key set is fetched again after this long, and at once for a key id it does not hold, but at
    # most once per oidc_jwks_min_refresh_s; a removed key stops its tokens within oidc_jwks_max_age_s.
    oidc_jwks_max_age_s: float = Field(60.0, gt=0, le=86_400)
    oidc_jwks_min_refresh_s: float = Field(5.0, ge=0, le=3600)
    # Development only: also accept HS256 tokens signed with jwt_secret (`farmacy token --hs256`). Refused in
    # production.
    auth_hs256: bool = False

    # Quotas of the command and query APIs: token buckets per client (the token's subject) and per client address,
    # in each API process (answer: 429 with Retry-After). The defaults are above what one client of the tests or
    # the benchmarks asks on one machine; a deployment sets its own.
    quota_client_rate: float = Field(500.0, gt=0)  # requests per second, sustained
    quota_client_burst: int = Field(1000, ge=1)  # requests at once
    quota_address_rate: float = Field(2000.0, gt=0)
    quota_address_burst: int = Field(4000, ge=1)

    @property
    def pg_dsn(self) -> str:
        """libpq connection string; values are quoted by psycopg, so any password works."""
        return make_conninfo(
            host=self.pg_host,
            port=self.pg_port,
            dbname=self.pg_database,
            user=self.pg_user,
            password=self.pg_password.get_secret_value(),
        )

    @property
    def sqlalchemy_url(self) -> URL:
        """The database URL for Alembic, as a ``URL`` object (never rendered, so nothing needs escaping)."""
        return URL.create(
            "postgresql+psycopg",
            username=self.pg_user,
            password=self.pg_password.get_secret_value(),
            host=self.pg_host,
            port=self.pg_port,
            database=self.pg_database,
        )

    def check_worker_count(self, view: str, count: int) -> None:
        """Raises ValueError unless ``count`` workers can run ``view``: one to the partitions of each topic (Kafka
        gives each partition to one worker of the group, so more would idle)."""
        if view not in self.views:
            raise ValueError(f"unknown view {view!r}; this stack runs {', '.join(self.views)}")
        if not 1 <= count <= self.topic_partitions:
            raise ValueError(
                f"{count} workers for {view}: between 1 and {self.topic_partitions} (the partitions of each topic; "
                "Kafka gives each partition to one worker of the group, so more would idle)"
            )

    def pg_role_login(self, role: DbRole) -> tuple[str, str]:
        """The user name and password of a service role (farmacy/db_roles.py)."""
        password: SecretStr = getattr(self, f"pg_{role.value}_password")
        return ROLES[role].name, password.get_secret_value()

    def sink_port(self, view: str, worker: int = 0) -> int:
        """The /health and /metrics port of a view's worker ``worker`` (0-based)."""
        return self.sink_port_base + self.views.index(view) + SINK_WORKER_PORT_STRIDE * worker

    @property
    def supervisor_socket(self) -> Path:
        """supervisord's XML-RPC socket in the local stack (stack/layout.py puts it there)."""
        return self.stack_dir.resolve() / "run" / "supervisor.sock"

    def topic(self, schema: str, table: str) -> str:
        return f"{self.topic_prefix}.{schema}.{table}"

    # Cluster-level names: all derived from stack_name (or topic_prefix), so a second stack shares none.

    @property
    def connect_group_id(self) -> str:
        return f"{self.stack_name}-connect"

    def connect_storage_topic(self, kind: str) -> str:
        """Kafka Connect's internal topics: kind is ``configs``, ``offsets`` or ``status``."""
        return f"{self.stack_name}-connect-{kind}"

    def sink_group_id(self, view: str) -> str:
        """The consumer group of a view's sink worker (its committed offsets are the view's position)."""
        return f"{self.stack_name}-sink-{view}"

    def dead_letter_topic(self, view: str) -> str:
        return f"{self.topic_prefix}.dlq.{view}"

    def redrive_topic(self, view: str) -> str:
        """Where re-driven dead letters go: read by that view's worker only, so no other view sees them again."""
        return f"{self.topic_prefix}.redrive.{view}"

    @property
    def elasticsearch_cluster_name(self) -> str:
        return f"{self.stack_name}-local"

    @property
    def elasticsearch_node_name(self) -> str:
        return f"{self.stack_name}-es-1"

    @property
    def topic_replication_factor(self) -> int:
        return min(self.kafka_brokers, 3)

    @property
    def elasticsearch_urls(self) -> list[str]:
        """Every Elasticsearch node a client may send requests to (it moves on to the next when one is down)."""
        return [self.elasticsearch_url] + [
            http_url(self.elasticsearch_host, self.elasticsearch_port + i) for i in range(1, self.elasticsearch_nodes)
        ]

    @property
    def connect_urls(self) -> list[str]:
        """Every Kafka Connect worker's REST API (any of them answers for the group)."""
        stride = NODE_PORT_STRIDE
        return [self.connect_url] + [
            http_url(self.connect_host, self.connect_port + stride * i) for i in range(1, self.connect_workers)
        ]

    @model_validator(mode="after")
    def _sizes_fit(self) -> Self:
        if self.kafka_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                f"kafka_min_insync_replicas ({self.kafka_min_insync_replicas}) exceeds the topics' replication "
                f"factor ({self.topic_replication_factor}): no write could ever be acknowledged"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Self:
        if self.mode is Mode.PRODUCTION:
            for name in ("pg_password", "jwt_secret"):
                value: SecretStr = getattr(self, name)
                if value.get_secret_value() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"FARMACY_{name.upper()} is a placeholder; set a real secret in production")
            if self.auth_hs256:
                raise ValueError("FARMACY_AUTH_HS256 is for development; production accepts the issuer's tokens only")
            for name in ("oidc_issuer", "oidc_jwks_url"):
                if not str(getattr(self, name)).startswith("https://"):
                    raise ValueError(f"FARMACY_{name.upper()} must be an https URL in production (the provider's)")
        return self
