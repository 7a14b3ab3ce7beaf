"""Renders the configuration of every local-stack component from settings and templates."""

from __future__ import annotations

import base64
import shlex
import shutil
import uuid
from pathlib import Path
from string import Template

from farmacy.settings import ROOT, Settings
from stack import scale
from stack.install import Installed
from stack.layout import Layout
from stack.manifests import Program, service_programs

TEMPLATES = Path(__file__).with_name("templates")


def _render(template: str, **values: object) -> str:
    return Template((TEMPLATES / template).read_text()).substitute({k: str(v) for k, v in values.items()})


ENGINES = ("postgres", "kafka", "elasticsearch", "connect")
SERVICES = ("command-api", "query-api", "ops-api", "watchdog")


def kafka_cluster_id() -> str:
    """A random base64url id. Like Kafka's own Uuid.randomUuid, never one starting with '-', which the
    storage tool's command line would read as an option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def connect_properties(settings: Settings, plugin_path: Path) -> str:
    """Kafka Connect's worker config: its group and internal topics are this stack's own."""
    return _render(
        "connect-distributed.properties.tmpl",
        bootstrap=settings.kafka_bootstrap,
        port=settings.connect_port,
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
    values = {
        "hostname": settings.pg_host,
        "port": str(settings.pg_port),
        "dbname": settings.pg_database,
        "user": settings.pg_user,
        "password": settings.pg_password.get_secret_value(),
    }
    return "".join(f"{key}={_property_value(value)}\n" for key, value in values.items())


def elasticsearch_yml(settings: Settings, layout: Layout) -> str:
    return _render(
        "elasticsearch.yml.tmpl",
        cluster_name=settings.elasticsearch_cluster_name,
        node_name=settings.elasticsearch_node_name,
        port=settings.elasticsearch_port,
        transport_port=settings.elasticsearch_transport_port,
        data=layout.data / "elasticsearch",
        logs=layout.logs / "elasticsearch",
    )


def render_all(settings: Settings, layout: Layout, installed: Installed, user: str | None) -> list[Program]:
    """Writes every config file under the stack directory and returns the supervised programs."""
    conf = layout.conf
    java = str(installed.java.bin)

    (conf / "postgresql.conf").write_text(
        _render("postgresql.conf.tmpl", port=settings.pg_port, run=layout.run / "postgres")
    )
    (conf / "server.properties").write_text(
        _render(
            "server.properties.tmpl",
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            data=layout.data / "kafka",
        )
    )
    (conf / "log4j2.properties").write_text(_render("log4j2.properties.tmpl"))
    connect_dir = conf / "connect"
    (connect_dir / "secrets").mkdir(parents=True, exist_ok=True)
    (conf / "connect-distributed.properties").write_text(connect_properties(settings, layout.connect_plugins))
    # Read by the connector through ${file:secrets/postgres.properties:...} (relative to Connect's cwd).
    secrets = connect_dir / "secrets" / "postgres.properties"
    secrets.write_text(postgres_secrets(settings))
    secrets.chmod(0o600)

    es_conf = conf / "elasticsearch"
    es_conf.mkdir(exist_ok=True)
    for item in ("jvm.options", "log4j2.properties"):
        shutil.copy(layout.elasticsearch_home / "config" / item, es_conf / item)
    (es_conf / "jvm.options.d").mkdir(exist_ok=True)
    (es_conf / "elasticsearch.yml").write_text(elasticsearch_yml(settings, layout))

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
            "kafka",
            [
                java,
                f"-Xms{settings.kafka_heap}",
                f"-Xmx{settings.kafka_heap}",
                log4j,
                "-cp",
                classpath,
                "kafka.Kafka",
                str(conf / "server.properties"),
            ],
            directory=layout.data,
            startsecs=5,
        ),
        Program(
            "elasticsearch",
            [str(layout.elasticsearch_home / "bin" / "elasticsearch")],
            directory=layout.elasticsearch_home,
            startsecs=5,
            environment={
                "ES_JAVA_HOME": str(installed.java.home),
                "ES_PATH_CONF": str(es_conf),
                "ES_JAVA_OPTS": f"-Xms{settings.elasticsearch_heap} -Xmx{settings.elasticsearch_heap}",
            },
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
                str(conf / "connect-distributed.properties"),
            ],
            directory=connect_dir,
            startsecs=5,
        ),
        *service_programs(settings, scale.workers(settings, layout)),
    ]

    parts = [_render("supervisord.conf.tmpl", run=layout.run, logs=layout.logs, root=ROOT)]
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
