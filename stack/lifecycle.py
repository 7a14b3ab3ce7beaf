"""`farmacy up / down / status`: install, configure, start in dependency order, wait for health."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from farmacy import migrations
from farmacy.connect import ConnectClient, load_specs
from farmacy.settings import Settings, http_url
from farmacy.views import worker_program
from stack import health, identity, postgres, render, scale
from stack.health import Health
from stack.install import install
from stack.layout import Layout
from stack.progress import say, step
from stack.render import ENGINES, MONITORING, SCALER, SERVICES, elasticsearch_nodes, kafka_cluster_id, render_all
from stack.supervisor import Supervisor
from stack.system import StackSetupError, chown_tree, service_user
from stack.versions import load_versions


def layout_for(settings: Settings) -> Layout:
    return Layout(settings.stack_dir.resolve(), load_versions())


def probes(settings: Settings) -> dict[str, Callable[[], Health]]:
    result: dict[str, Callable[[], Health]] = {
        "postgres": lambda: health.postgres_health(settings),
        "hydra": partial(health.http_health, f"{identity.admin_url(settings)}/health/ready"),
        "kafka": lambda: health.kafka_health(settings),
        "elasticsearch": lambda: health.elasticsearch_health(settings),
        "connect": lambda: health.connect_health(settings, settings.connector_name),
        "command-api": partial(health.http_health, _health_url(settings.command_port)),
        "query-api": partial(health.http_health, _health_url(settings.query_port)),
        "ops-api": partial(health.http_health, _health_url(settings.ops_port)),
        "watchdog": partial(health.http_health, _health_url(settings.watchdog_port)),
        "reconciler": partial(health.http_health, _health_url(settings.reconciler_port)),
        "prometheus": lambda: health.prometheus_health(settings),
        "alertmanager": lambda: health.alertmanager_health(settings),
    }
    for view, count in scale.workers(settings, layout_for(settings)).items():
        for name, port in worker_processes(settings, view, count):
            result[name] = partial(health.http_health, _health_url(port))
    return result


def worker_processes(settings: Settings, view: str, count: int) -> list[tuple[str, int]]:
    """A view's sink workers as supervisord names them, with each one's /health port."""
    program = worker_program(view)
    if count == 1:
        return [(program, settings.sink_port(view))]
    return [(f"{program}:{program}-{i}", settings.sink_port(view, i)) for i in range(count)]


def _health_url(port: int) -> str:
    """The /health endpoint of one of our processes (they listen on loopback in the local stack)."""
    return f"{http_url('127.0.0.1', port)}/health"


def up(settings: Settings, seed: bool = True) -> None:
    started = time.monotonic()
    layout = layout_for(settings)
    installed = install(layout)
    user = service_user()
    if user is not None:
        _check_traversable(layout.root)
    postgres.init_cluster(settings, layout, installed.pg_bindir, user)
    owned_by_engines = (
        layout.data,
        *(node.logs for node in elasticsearch_nodes(settings, layout)),
        layout.conf / "elasticsearch",
        layout.conf / "connect",
        layout.conf / "alertmanager",
        layout.conf / "hydra",
        layout.run / "postgres",
    )
    for owned in owned_by_engines:
        owned.mkdir(parents=True, exist_ok=True)
    render_all(settings, layout, installed, user)
    for owned in owned_by_engines:
        chown_tree(owned, user)
    sup = Supervisor(layout)
    sup.start_daemon()
    check = probes(settings)

    sup.start("postgres")
    health.wait_healthy("postgres", check["postgres"], 60)
    with step("database, roles and migrations"):
        postgres.ensure_database(settings)
        postgres.ensure_roles(settings)
        migrations.upgrade(settings)
    _start_identity(settings, layout, sup, check["hydra"])

    cluster_id = None
    for i in range(settings.kafka_brokers):
        kafka_data = render.kafka_data(layout, i)
        if (kafka_data / "meta.properties").exists():
            continue
        if cluster_id is None:
            cluster_id = _existing_kafka_cluster_id(settings, layout) or kafka_cluster_id()
        with step(f"formatting Kafka KRaft storage (broker {i + 1} of {settings.kafka_brokers})"):
            kafka_data.mkdir(exist_ok=True)
            chown_tree(kafka_data, user)
            subprocess.run(
                postgres.as_user(
                    [
                        str(installed.java.bin),
                        f"-Dlog4j2.configurationFile={layout.conf / 'log4j2.properties'}",
                        "-cp",
                        f"{layout.kafka_libs}/*",
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        cluster_id,
                        "-c",
                        str(layout.conf / f"server-{i}.properties"),
                    ],
                    user,
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
    sup.start("kafka")
    sup.start("elasticsearch")
    if settings.elasticsearch_nodes == 2:
        sup.start("elasticsearch-tiebreaker")
    health.wait_healthy("kafka", check["kafka"], 90 * settings.kafka_brokers)
    sup.start("connect")
    health.wait_healthy("elasticsearch", check["elasticsearch"], 180 * settings.elasticsearch_nodes)
    health.wait_healthy("kafka connect", lambda: health.connect_health(settings), 180 * settings.connect_workers)

    client = ConnectClient(settings.connect_urls)
    try:
        for spec in load_specs(settings):
            with step(f"applying connector {spec.name}"):
                client.apply(spec)
                client.wait_running(spec.name, timeout=180)
    finally:
        client.close()
    health.wait_healthy("connect", check["connect"], 60)

    for name in (*MONITORING, *SERVICES, *(worker_program(v) for v in settings.views), SCALER):
        sup.start(name)
    for name in (*MONITORING, *SERVICES):
        health.wait_healthy(name, check[name], 60)
    health.reload_monitoring(settings)  # already running: read the configs rendered above
    _wait_workers_serving(settings, settings.views)
    scale.record_applied(layout, scale.workers(settings, layout))

    if seed:
        from stack.demo import seed_demo

        with step("seeding the demo dataset through the command API"):
            seed_demo(settings)
    say(f"stack up in {time.monotonic() - started:.1f}s")


def _start_identity(settings: Settings, layout: Layout, sup: Supervisor, probe: Callable[[], Health]) -> None:
    """Ory Hydra: its own database in the stack's PostgreSQL, its schema migrated, then its clients (one per role)."""
    with step("identity provider database and migrations"):
        postgres.ensure_database(settings, identity.DATABASE)
        subprocess.run(
            [
                str(layout.hydra_bin),
                "migrate",
                "sql",
                "up",
                "-e",
                "--yes",
                "--config",
                str(layout.conf / "hydra" / "hydra.yml"),
            ],
            check=True,
            capture_output=True,
        )
    sup.start("hydra")
    health.wait_healthy("hydra", probe, 60)
    with step("identity provider clients"):
        identity.ensure_clients(settings)


def _existing_kafka_cluster_id(settings: Settings, layout: Layout) -> str | None:
    """A broker added to formatted ones joins their cluster: the id from the first one's meta.properties."""
    for i in range(settings.kafka_brokers):
        meta = render.kafka_data(layout, i) / "meta.properties"
        if meta.exists():
            for line in meta.read_text().splitlines():
                if line.startswith("cluster.id="):
                    return line.split("=", 1)[1].strip()
    return None


def _wait_workers_serving(settings: Settings, views: Iterable[str]) -> None:
    """Serving is enough: a sink may rightly report degraded (an unresolved dead letter)."""
    counts = scale.workers(settings, layout_for(settings))
    for view in views:
        for name, port in worker_processes(settings, view, counts[view]):
            check = partial(health.http_health, _health_url(port), serving_is_enough=True)
            health.wait_healthy(name, check, 60)


def scale_workers(settings: Settings, view: str, count: int) -> None:
    """Keeps the count with the stack's configuration, renders it, and has supervisord run that many workers of the
    view (the view's workers restart; the group's offsets keep their place). The stack's scaler (stack/scaler.py) calls
    it when `farmacy scale VIEW N` recorded a count that differs from what runs."""
    layout = layout_for(settings)
    scale.save(settings, layout, view, count)
    render_all(settings, layout, install(layout), service_user())
    sup = Supervisor(layout)
    sup.start_daemon()  # reloads: the view's program changed, so its group is replaced
    sup.start(worker_program(view))
    _wait_workers_serving(settings, [view])
    scale.record_applied(layout, {view: count})


def wait_scaled(settings: Settings, view: str, count: int, timeout: float = 180) -> None:
    """Waits for the stack's scaler (stack/scaler.py) to run ``count`` workers of the view: the count recorded as
    applied (after supervisord replaced the view's group and its workers serve), a worker beyond it no longer
    serving, and each of them serving (their /health ports only: nothing is asked of supervisord). The count saved
    is not enough: it is saved before supervisord's group is replaced, and the old group's workers stop one by one
    meanwhile."""
    layout = layout_for(settings)
    deadline = time.monotonic() + timeout
    while scale.applied(settings, layout)[view] != count:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{view}: the scaler did not apply {count} worker(s) in {timeout:.0f}s (is it running?)")
        time.sleep(0.5)
    beyond = _health_url(settings.sink_port(view, count))
    while health.http_health(beyond, serving_is_enough=True).ok:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{view}: worker {count} still serves {timeout:.0f}s after the scale")
        time.sleep(0.5)
    _wait_workers_serving(settings, [view])


def _check_traversable(root: Path) -> None:
    """The engines run as another user, who must be able to reach the stack directory."""
    for parent in root.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise StackSetupError(
                f"{parent} is not traversable by other users, so the engines (run as farmacy-stack) cannot reach "
                f"{root}; clone the project elsewhere, set FARMACY_STACK_DIR, or run `chmod o+x {parent}`"
            )


def is_up(settings: Settings) -> bool:
    layout = layout_for(settings)
    sup = Supervisor(layout)
    if not sup.running():
        return False
    return all(p().ok for p in probes(settings).values())


def down(settings: Settings) -> None:
    layout = layout_for(settings)
    sup = Supervisor(layout)
    if not sup.running():
        say("stack is not running")
        return
    workers = [worker_program(v) for v in settings.views]
    es = ["elasticsearch-tiebreaker"] if settings.elasticsearch_nodes == 2 else []
    order = [*workers, *SERVICES, *MONITORING, "connect", *es, "elasticsearch", "kafka", "hydra", "postgres"]
    for name in order:
        with step(f"stopping {name}"):
            sup.stop(name)
    sup.shutdown()
    say("stack stopped; data kept under " + str(layout.root / "data"))


def status(settings: Settings) -> list[dict[str, str]]:
    """A row per supervised process. An engine that runs several nodes (the cluster profile) has a row per node,
    each with the engine's health as the cluster answers it."""
    layout = layout_for(settings)
    sup = Supervisor(layout)
    running = sup.running()
    all_info = sup.all_info() if running else []
    check = probes(settings)
    tiebreaker = ("elasticsearch-tiebreaker",) if settings.elasticsearch_nodes == 2 else ()
    engines = (*ENGINES, *tiebreaker)
    rows = []
    for name in (*engines, *MONITORING, *SERVICES, *(n for n in check if n not in (*ENGINES, *MONITORING, *SERVICES))):
        group = name.split(":")[0]
        members = [i for i in all_info if i["group"] == group and (":" not in name or i["name"] == name.split(":")[1])]
        probe = check.get(name) or check.get(group)
        health = None
        for info in members or [{}]:
            state = info.get("statename", "NOT RUNNING" if not running else "UNKNOWN")
            if state == "RUNNING" and health is None:
                health = probe() if probe else Health(True, "running")
            h = health if state == "RUNNING" and health is not None else Health(False, "-")
            label = name if ":" in name or info.get("name", name) == group else f"{group}:{info['name']}"
            rows.append(
                {
                    "component": label,
                    "process": state,
                    "pid": str(info.get("pid") or "-"),
                    "healthy": "yes" if h.ok else "no",
                    "detail": h.detail,
                }
            )
    return rows
