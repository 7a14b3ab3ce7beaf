"""Renders the configuration of every local-stack component from settings and templates."""

from __future__ import annotations

import base64
import shlex
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from farmacy.db_roles import DbRole
from farmacy.logs import SERVICE_PYTHON_ENV
from farmacy.settings import NODE_PORT_STRIDE, ROOT, Settings
from stack import identity, scale, scaler
from stack.install import Installed
from stack.layout import Layout
from stack.manifests import Program, alertmanager_config, prometheus_config, service_programs

TEMPLATES = Path(__file__).with_name("templates")


def _render(template: str, **values: object) -> str:
    return Template((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in values.items()})


ENGINES = ("postgres", "hydra", "kafka", "elasticsearch", "connect")
MONITORING = ("prometheus", "alertmanager")
SERVICES = ("command-api", "query-api", "ops-api", "watchdog", "reconciler")
SCALER = "scaler"  # the local stack's follower of the workers' count (stack/scaler.py)
# The local stack evaluates rules and groups notifications quickly, so an alert reaches its receivers within
# a minute or two of its cause (the e2e tests wait for that).
LOCAL_PROMETHEUS_INTERVAL = "5s"
# A master-only node holds no shard: a small heap is enough.
TIEBREAKER_HEAP = "256m"


def kafka_cluster_id() -> str:
    """A random base64url id. Like Kafka's own Uuid.randomUuid, never one starting with '-', which the
    storage tool's command line would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def connect_properties(settings: Settings, plugin_path: Path, worker: int = 0) -> str:
    """Kafka Connect worker ``worker``'s config: its group and internal topics are this stack's own."""
    return _render(
        "connect-distributed.properties.tmpl",
        bootstrap=settings.kafka_bootstrap,
        port=settings.connect_port + NODE_PORT_STRIDE * worker,
        replication=settings.topic_replication_factor,
        group_id=settings.connect_group_id,
        config_topic=settings.connect_storage_topic("configs"),
        offset_topic=settings.connect_storage_topic("offsets"),
        status_topic=settings.connect_storage_topic("status"),
        plugin_path=plugin_path,
    )


def _property_value(value: str) -> str:
    """Escapes a value for java.util.Properties.load (what Connect's FileConfigProvider reads)."""
    escaped = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return "\\" + escaped if escaped[:1] in (" ", "\f") else escaped


def postgres_secrets(settings: Settings) -> str:
    """The connector's login: the capture role (farmacy/db_roles.py)."""
    user, password = settings.pg_role_login(DbRole.CAPTURE)
    values = {
        "hostname": settings.pg_host,
        "port": str(settings.pg_port),
        "dbname": settings.pg_database,
        "user": user,
        "password": password,
    }
    return "".join(f"{key}={_property_value(value)}\n" for key, value in values.items())


@dataclass(frozen=True)
class EsNode:
    """One Elasticsearch node of the local stack: the data nodes, and in a two-node cluster a master-only
    tiebreaker, so that either data node can go away and the remaining two still elect a master."""

    name: str
    conf: Path
    data: Path
    logs: Path
    port: int
    transport_port: int
    roles: tuple[str, ...] | None = None  # None: Elasticsearch's default roles (master, data, ingest, ...)


def elasticsearch_nodes(settings: Settings, layout: Layout) -> list[EsNode]:
    def node(i: int, suffix: str, roles: tuple[str, ...] | None = None) -> EsNode:
        return EsNode(
            # es-1 (the single node's name), es-2, ..., es-tiebreaker
            name=f"{settings.stack_name}-es-{i + 1 if suffix.isdigit() else suffix}",
            conf=layout.conf / "elasticsearch" / f"node-{suffix}",
            data=layout.data / ("elasticsearch" if i == 0 else f"elasticsearch-{suffix}"),
            logs=layout.logs / ("elasticsearch" if i == 0 else f"elasticsearch-{suffix}"),
            port=settings.elasticsearch_port + i,
            transport_port=settings.elasticsearch_transport_port + i,
            roles=roles,
        )

    count = settings.elasticsearch_nodes
    nodes = [node(i, str(i)) for i in range(count)]
    if count == 2:
        nodes.append(node(count, "tiebreaker", ("master",)))
    return nodes


def elasticsearch_yml(settings: Settings, node: EsNode, nodes: list[EsNode]) -> str:
    if len(nodes) == 1:
        discovery = "discovery.type: single-node"
    else:
        seeds = ", ".join(f"127.0.0.1:{n.transport_port}" for n in nodes)
        masters = ", ".join(n.name for n in nodes)
        discovery = f"discovery.seed_hosts: [{seeds}]\ncluster.initial_master_nodes: [{masters}]"
        if node.roles is not None:
            discovery += f"\nnode.roles: [{', '.join(node.roles)}]"
    return _render(
        "elasticsearch.yml.tmpl",
        cluster_name=settings.elasticsearch_cluster_name,
        node_name=node.name,
        discovery=discovery,
        port=node.port,
        transport_port=node.transport_port,
        data=node.data,
        logs=node.logs,
    )


def kafka_properties(settings: Settings, layout: Layout, i: int) -> str:
    """Broker ``i`` (0-based; node id i + 1) of the stack's KRaft cluster, each broker also a controller."""
    controller_ports = [settings.kafka_controller_port + NODE_PORT_STRIDE * n for n in range(settings.kafka_brokers)]
    voters = ",".join(f"{n + 1}@127.0.0.1:{port}" for n, port in enumerate(controller_ports))
    return _render(
        "server.properties.tmpl",
        node_id=i + 1,
        brokers=settings.kafka_brokers,
        voters=voters,
        port=settings.kafka_port + NODE_PORT_STRIDE * i,
        controller_port=settings.kafka_controller_port + NODE_PORT_STRIDE * i,
        data=kafka_data(layout, i),
        replication=settings.topic_replication_factor,
        min_insync=settings.kafka_min_insync_replicas,
    )


def kafka_data(layout: Layout, i: int) -> Path:
    return layout.data / ("kafka" if i == 0 else f"kafka-{i}")


def render_all(settings: Settings, layout: Layout, installed: Installed, user: str | None) -> list[Program]:
    """Writes every config file under the stack directory and returns the supervised programs."""
    conf = layout.conf
    java = str(installed.java.bin)

    (conf / "postgresql.conf").write_text(
        _render("postgresql.conf.tmpl", port=settings.pg_port, run=layout.run / "postgres")
    )
    for i in range(settings.kafka_brokers):
        (conf / f"server-{i}.properties").write_text(kafka_properties(settings, layout, i))
    (conf / "log4j2.properties").write_text(_render("log4j2.properties.tmpl"))
    connect_dir = conf / "connect"
    (connect_dir / "secrets").mkdir(parents=True, exist_ok=True)
    for i in range(settings.connect_workers):
        (conf / f"connect-distributed-{i}.properties").write_text(
            connect_properties(settings, layout.connect_plugins, i)
        )
    # Read by the connector through ${file:secrets/postgres.properties:...} (relative to Connect's cwd).
    secrets = connect_dir / "secrets" / "postgres.properties"
    secrets.write_text(postgres_secrets(settings))
    secrets.chmod(0o600)

    es_nodes = elasticsearch_nodes(settings, layout)
    for node in es_nodes:
        node.conf.mkdir(parents=True, exist_ok=True)
        for item in ("jvm.options", "log4j2.properties"):
            shutil.copy(layout.elasticsearch_home / "config" / item, node.conf / item)
        (node.conf / "jvm.options.d").mkdir(exist_ok=True)
        (node.conf / "elasticsearch.yml").write_text(elasticsearch_yml(settings, node, es_nodes))
        for owned in (node.data, node.logs):
            owned.mkdir(parents=True, exist_ok=True)

    monitoring = render_monitoring(settings, layout)
    hydra_config = identity.render(settings, layout.conf / "hydra")

    log4j = f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}"
    classpath = f"{layout.kafka_libs}/*"
    programs = [
        Program(
            "postgres",
            [str(installed.pg_bindir / "postgres"), "-D", str(layout.data / "postgres")],
            directory=layout.data,
            stopsignal="INT",
            startsecs=3,
        ),
        Program(
            "hydra",
            [str(layout.hydra_bin), "serve", "all", "--dev", "--config", str(hydra_config)],
            directory=layout.data,
            startsecs=2,
        ),
        Program(
            "kafka",
            [
                java,
                f"-Xms{settings.kafka_heap}",
                f"-Xmx{settings.kafka_heap}",
                log4j,
                "-cp",
                classpath,
                "kafka.Kafka",
                str(conf / "server-%(process_num)d.properties"),
            ],
            directory=layout.data,
            startsecs=5,
            numprocs=settings.kafka_brokers,
        ),
        *(
            Program(
                "elasticsearch" if node.roles is None else "elasticsearch-tiebreaker",
                [str(layout.elasticsearch_home / "bin" / "elasticsearch")],
                directory=layout.elasticsearch_home,
                startsecs=5,
                environment={
                    "ES_JAVA_HOME": str(installed.java.home),
                    # Each data node's own directory (supervisord fills in the process number).
                    "ES_PATH_CONF": str(node.conf.with_name("node-%(process_num)d"))
                    if node.roles is None
                    else str(node.conf),
                    "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
                },
                numprocs=settings.elasticsearch_nodes if node.roles is None else 1,
            )
            for node, heap in _es_programs(settings, es_nodes)
        ),
        Program(
            "connect",
            [
                java,
                f"-Xms{settings.connect_heap}",
                f"-Xmx{settings.connect_heap}",
                log4j,
                "-cp",
                classpath,
                "org.apache.kafka.connect.cli.ConnectDistributed",
                str(conf / "connect-distributed-%(process_num)d.properties"),
            ],
            directory=connect_dir,
            startsecs=5,
            numprocs=settings.connect_workers,
        ),
        *monitoring_programs(settings, layout, installed, monitoring),
        *service_programs(settings, scale.workers(settings, layout)),
        # The local stack's counterpart of KEDA for the workers' count (stack/scaler.py); compose and Kubernetes have
        # their own, so it is not among the service programs they mirror.
        Program(
            SCALER,
            scaler.command(
                scaler.Follows(
                    scale.counts_file(layout),
                    settings.sink_workers,
                    [f"{url}/{settings.sync_index}" for url in settings.elasticsearch_urls],
                    list(settings.views),
                )
            ),
            directory=ROOT,
            as_service_user=False,
            environment=dict(SERVICE_PYTHON_ENV),
        ),
    ]

    supervisord = _render(
        "supervisord.conf.tmpl", run=layout.run, logs=layout.logs, supervisord_log=layout.supervisord_log, root=ROOT
    )
    parts = [supervisord]
    for p in programs:
        env = ",".join(f'{k}="{v}"' for k, v in p.environment.items())
        run_as = user if (p.as_service_user and user) else None
        parts.append(
            _render(
                "program.conf.tmpl",
                name=p.name,
                command=shlex.join(p.command),
                directory=p.directory,
                user_line=f"user={run_as}" if run_as else "",
                environment=env,
                startsecs=p.startsecs,
                stopsignal=p.stopsignal,
                logs=layout.logs,
                procs_lines=(
                    f"numprocs={p.numprocs}\nprocess_name=%(program_name)s-%(process_num)d" if p.numprocs > 1 else ""
                ),
                log_name=f"{p.name}-%(process_num)d" if p.numprocs > 1 else p.name,
            )
        )
    layout.supervisord_conf.write_text("\n".join(parts))
    return programs


def _es_programs(settings: Settings, nodes: list[EsNode]) -> list[tuple[EsNode, str]]:
    """One supervised program for the data nodes (a process each) and one for a tiebreaker, with their heaps."""
    programs = [(nodes[0], settings.elasticsearch_heap)]
    programs += [(n, TIEBREAKER_HEAP) for n in nodes if n.roles is not None]
    return programs


def render_monitoring(settings: Settings, layout: Layout) -> dict[str, Path]:
    """Prometheus's config (with the repository's alert rules beside it) and Alertmanager's, under conf/."""
    prom = layout.conf / "prometheus"
    prom.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "monitoring" / "alerts.yml", prom / "alerts.yml")
    (prom / "prometheus.yml").write_text(prometheus_config(settings, interval=LOCAL_PROMETHEUS_INTERVAL))
    am = layout.conf / "alertmanager"
    am.mkdir(parents=True, exist_ok=True)
    am_file = am / "alertmanager.yml"
    am_file.write_text(yaml.safe_dump(alertmanager_config(settings), sort_keys=False))
    am_file.chmod(0o600)  # it holds the receiver's bearer secret; chowned to the engines' user with conf/alertmanager
    for data in ("prometheus", "alertmanager"):
        (layout.data / data).mkdir(parents=True, exist_ok=True)
    return {"prometheus": prom / "prometheus.yml", "alertmanager": am_file}


def monitoring_programs(
    settings: Settings, layout: Layout, installed: Installed, configs: dict[str, Path]
) -> list[Program]:
    return [
        Program(
            "prometheus",
            [
                str(installed.monitoring.prometheus),
                f"--config.file={configs['prometheus']}",
                f"--storage.tsdb.path={layout.data / 'prometheus'}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
                "--web.enable-lifecycle",
            ],
            directory=layout.data,
            startsecs=2,
        ),
        Program(
            "alertmanager",
            [
                str(installed.monitoring.alertmanager),
                f"--config.file={configs['alertmanager']}",
                f"--storage.path={layout.data / 'alertmanager'}",
                f"--web.listen-address=127.0.0.1:{settings.alertmanager_port}",
                "--cluster.listen-address=",  # one instance: no gossip port to collide with another stack's
            ],
            directory=layout.data,
            startsecs=2,
        ),
    ]
