"""The `farmacy` command: run the local stack, inspect it, mint tokens, run the tests."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated
from uuid import UUID

import typer

from farmacy.settings import ROOT, Profile, Settings, WorkerControlKind, http_url

app = typer.Typer(
    help="Farmacy Food CQRS platform: local stack, operations and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
connectors_app = typer.Typer(help="Kafka Connect connectors (Debezium).", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")
dlq_app = typer.Typer(help="Dead-lettered events of the sink workers.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")


def _settings() -> Settings:
    return Settings()


PROFILE_HELP = (
    "single: one node of each engine; cluster: 3 Kafka brokers, 2 Kafka Connect workers, 2 Elasticsearch nodes "
    "(and a tiebreaker), in .stack-cluster (docs/deploy.md). Also FARMACY_PROFILE."
)


def _use_profile(profile: Profile | None) -> None:
    """Every later Settings() of this command, and the processes it starts (supervisord passes its environment
    on), see the profile."""
    if profile is not None:
        import os

        os.environ["FARMACY_PROFILE"] = profile.value


@app.callback()
def choose_profile(profile: Annotated[Profile | None, typer.Option(help=PROFILE_HELP)] = None) -> None:
    _use_profile(profile)


@app.command()
def up(
    seed: Annotated[bool, typer.Option(help="Seed the demo dataset")] = True,
    profile: Annotated[Profile | None, typer.Option(help=PROFILE_HELP)] = None,
) -> None:
    """Install what is missing, start every component in order, wait until healthy, seed demo data."""
    from stack import lifecycle

    _use_profile(profile)
    settings = _settings()
    lifecycle.up(settings, seed=seed)
    _print_status(settings)


@app.command()
def down() -> None:
    """Stop every component (data is kept)."""
    from stack import lifecycle

    lifecycle.down(_settings())


@app.command()
def restart(names: Annotated[list[str], typer.Argument(help="Programs, e.g. command-api sink-inventory")]) -> None:
    """Restart supervised programs (after a code or config change)."""
    from stack.lifecycle import layout_for
    from stack.supervisor import Supervisor

    sup = Supervisor(layout_for(_settings()))
    for name in names:
        sup.stop(name)
        sup.start(name)
        for member in sup.members(name):
            print(f"{member}: {sup.info(member)['statename']}")


@app.command()
def scale(
    view: Annotated[str, typer.Argument(help="A view, e.g. inventory")],
    workers: Annotated[int, typer.Argument(help="How many sink workers the view runs (at most its partitions)")],
) -> None:
    """Run N sink workers for a view, in one consumer group: Kafka shares the view's partitions among them."""
    settings = _settings()
    if settings.worker_control is WorkerControlKind.COMPOSE:
        from ops.workers import ComposeWorkers

        ComposeWorkers(settings).scale(view, workers)
    else:
        from stack.lifecycle import scale_workers

        try:
            scale_workers(settings, view, workers)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    print(f"{view}: {workers} worker(s)")


@app.command()
def status() -> None:
    """Show each component's process state and health, and the connector's state."""
    healthy = _print_status(_settings())
    raise typer.Exit(0 if healthy else 1)


def _print_status(settings: Settings) -> bool:
    from stack import lifecycle

    rows = lifecycle.status(settings)
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    print("  ".join(k.upper().ljust(widths[k]) for k in rows[0]))
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k in r))
    print(
        f"\nstack        {settings.stack_name}\n"
        f"command API  {http_url('127.0.0.1', settings.command_port)}/docs\n"
        f"query API    {http_url('127.0.0.1', settings.query_port)}/docs\n"
        f"connect      {settings.connect_url}/connectors/{settings.connector_name}/status\n"
        f"elasticsearch {settings.elasticsearch_url}/_cat/indices?v\n"
        f"ops console  {http_url('127.0.0.1', settings.ops_port)}/console\n"
        f"prometheus   {settings.prometheus_url}/alerts\n"
        f"alertmanager {settings.alertmanager_url}\n"
        f"logs         {settings.stack_dir / 'logs'}"
    )
    return all(r["healthy"] == "yes" for r in rows)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Start the stack if it is not up, then run the whole test suite (extra args go to pytest)."""
    import os

    from stack import lifecycle
    from stack.k8s_tools import ensure_installed
    from stack.system import find_chromium, find_promtool

    settings = _settings()
    find_promtool()  # the monitoring tests run the alert-rule tests with it
    find_chromium()  # the console's browser tests (tests/browser) drive it through Playwright
    ensure_installed(settings)  # kustomize and kubeconform: the deploy/k8s tests build and validate every overlay
    if not lifecycle.is_up(settings):
        lifecycle.up(settings, seed=True)
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    result = subprocess.run([sys.executable, "-m", "pytest", *ctx.args], cwd=ROOT, env=env)
    raise typer.Exit(result.returncode)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="customer, admin or operator")] = "admin",
    subject: Annotated[str, typer.Option(help="Token subject (user name)")] = "local-admin",
    customer_id: Annotated[str | None, typer.Option(help="Customer id (required for role customer)")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 3600,
) -> None:
    """Mint a bearer token for local use, signed with FARMACY_JWT_SECRET."""
    from farmacy.auth import Role, mint

    settings = _settings()
    print(
        mint(
            settings.jwt_secret.get_secret_value(), subject, Role(role), UUID(customer_id) if customer_id else None, ttl
        )
    )


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic) to the configured database."""
    from farmacy import migrations

    migrations.upgrade(_settings())


@app.command()
def seed() -> None:
    """Seed the demo dataset through the command API (skipped when the catalog is not empty)."""
    from stack.demo import seed_demo

    seed_demo(_settings())


@app.command()
def manifests(
    check: Annotated[bool, typer.Option(help="Only report files that differ; exit 1 if any")] = False,
) -> None:
    """Render what derives from the list of views: docker-compose.yml's sink services, monitoring/prometheus.yml,
    deploy/k8s/base/generated/."""
    from stack.manifests import repository_settings, stale_files, write_files

    settings = repository_settings()
    changed = stale_files(settings) if check else write_files(settings)
    for path in changed:
        print(f"{'differs' if check else 'rewrote'}: {path}")
    raise typer.Exit(1 if check and changed else 0)


@connectors_app.command("status")
def connectors_status() -> None:
    """Connector and task states as Kafka Connect reports them."""
    import json

    from farmacy.connect import ConnectClient, load_specs

    settings = _settings()
    client = ConnectClient(settings.connect_urls)
    try:
        for spec in load_specs(settings):
            print(json.dumps(client.status(spec.name), indent=2))
    finally:
        client.close()


@connectors_app.command("apply")
def connectors_apply() -> None:
    """PUT every connectors/*.json config (idempotent) and wait for RUNNING."""
    from farmacy.connect import ConnectClient, load_specs

    settings = _settings()
    client = ConnectClient(settings.connect_urls)
    try:
        for spec in load_specs(settings):
            client.apply(spec)
            client.wait_running(spec.name)
            print(f"{spec.name}: RUNNING")
    finally:
        client.close()


@connectors_app.command("restart")
def connectors_restart(
    name: Annotated[str | None, typer.Option(help="Connector; default: this stack's (FARMACY_CONNECTOR_NAME)")] = None,
    only_failed: bool = False,
) -> None:
    """Restart a connector and its tasks."""
    from farmacy.connect import ConnectClient

    settings = _settings()
    name = name or settings.connector_name
    client = ConnectClient(settings.connect_urls)
    try:
        client.restart(name, include_tasks=True, only_failed=only_failed)
        print(client.wait_running(name))
    finally:
        client.close()


@connectors_app.command("pause")
def connectors_pause(
    name: Annotated[str | None, typer.Option(help="Connector; default: this stack's (FARMACY_CONNECTOR_NAME)")] = None,
) -> None:
    """Pause a connector (capture stops; the slot keeps WAL until it resumes)."""
    from ops.connectors import act

    settings = _settings()
    status = act(settings, name or settings.connector_name, "pause")
    print(status["connector"]["state"] if status else "not registered")


@connectors_app.command("resume")
def connectors_resume(
    name: Annotated[str | None, typer.Option(help="Connector; default: this stack's (FARMACY_CONNECTOR_NAME)")] = None,
) -> None:
    """Resume a paused connector."""
    from ops.connectors import act

    settings = _settings()
    status = act(settings, name or settings.connector_name, "resume")
    print(status["connector"]["state"] if status else "not registered")


@app.command()
def topics() -> None:
    """List the Kafka topics with their end offsets."""
    from confluent_kafka import Consumer, TopicPartition

    settings = _settings()
    consumer = Consumer(
        {"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.stack_name}-cli-topics"}
    )
    try:
        md = consumer.list_topics(timeout=10)
        for name in sorted(md.topics):
            if name.startswith("__"):
                continue
            ends = [
                consumer.get_watermark_offsets(TopicPartition(name, p), timeout=5)[1]
                for p in md.topics[name].partitions
            ]
            print(f"{name:50s} partitions={len(ends)} end_offsets={ends}")
    finally:
        consumer.close()


@app.command()
def reconcile(
    view: Annotated[list[str] | None, typer.Option(help="View(s) to check; default: all")] = None,
    repair: Annotated[bool, typer.Option(help="Rebuild and rewrite every drifted document")] = False,
    show: Annotated[int, typer.Option(help="How many drifted ids to list per kind")] = 5,
) -> None:
    """Compare each view with the projection of the master: missing, extra and different documents."""
    from elasticsearch import Elasticsearch

    from ops.reconcile import reconcile as run
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    settings = _settings()
    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=60)
    drifted = 0
    with read_pool(settings, "reconcile") as pool:
        for name in view or list(VIEWS):
            d = run(pool, es, VIEWS[name], repair=repair)
            drifted += d.total
            print(
                f"{name:14s} master={d.master_documents} view={d.view_documents} missing={len(d.missing)} "
                f"extra={len(d.extra)} different={len(d.different)}" + (f" repaired={d.repaired}" if repair else "")
            )
            for kind in ("missing", "extra", "different"):
                ids = getattr(d, kind)
                if ids:
                    print(f"  {kind}: {', '.join(ids[:show])}{' ...' if len(ids) > show else ''}")
    es.close()
    raise typer.Exit(1 if drifted and not repair else 0)


@app.command()
def replay(
    view: Annotated[str, typer.Argument(help="View whose worker re-reads its topics")],
    from_offset: Annotated[
        list[str] | None, typer.Option(help="TOPIC:PARTITION:OFFSET to restart from (repeatable)")
    ] = None,
    from_beginning: Annotated[bool, typer.Option(help="Re-read every topic of the view from its start")] = False,
    since: Annotated[
        str | None, typer.Option(help="Re-read from a time: 2026-11-25T10:00Z, or a duration back from now: 1h, 30m")
    ] = None,
) -> None:
    """Replay a view from a point in its topics: stop its worker, move the group's offsets, start it again.

    Replays are safe: documents are rebuilt from the master and versioned, so old events change nothing.
    """
    from ops.replay import parse_since, replay_view

    if not from_offset and not from_beginning and since is None:
        raise typer.BadParameter("give --from-beginning, --since or at least one --from-offset")
    try:
        when = parse_since(since) if since is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    moved = replay_view(_settings(), view, from_offset or [], from_beginning, since=when)
    for tp in moved:
        print(f"{tp.topic}[{tp.partition}] -> offset {tp.offset}")


@app.command()
def rebuild(
    view: Annotated[str, typer.Argument(help="View to rebuild into a new index")],
    keep_old: Annotated[bool, typer.Option(help="Keep the previous index instead of deleting it")] = False,
) -> None:
    """Blue/green rebuild: fill a new index from the master, swap the alias atomically, resume the worker."""
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    from ops.bluegreen import rebuild_view
    from ops.workers import worker_control
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    settings = _settings()
    workers = worker_control(settings)
    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=120, serializer=OrjsonSerializer())

    def progress(done: int, total: int) -> None:
        print(f"\r  filled {done}/{total} roots", end="", flush=True)

    with read_pool(settings, "rebuild") as pool:
        result = rebuild_view(
            pool,
            es,
            VIEWS[view],
            lambda: workers.stop(view),
            lambda: workers.start(view),
            delete_old=not keep_old,
            progress=progress,
            replicas=settings.view_replicas,
        )
    es.close()
    print(
        f"\n{view}: {result.documents} documents into {result.new_index} in {result.seconds:.1f}s; alias swapped "
        f"from {result.old_index}" + (" (kept)" if keep_old else " (deleted)")
    )


@app.command()
def snapshot(tables: Annotated[list[str], typer.Argument(help="schema.table, e.g. catalog.meals")]) -> None:
    """Start an incremental snapshot of tables (Debezium re-emits their rows while streaming goes on)."""
    from ops.snapshots import request_incremental_snapshot

    settings = _settings()
    signal_id = request_incremental_snapshot(settings, tables)
    log = settings.stack_dir / "logs" / "connect.log"
    print(f"incremental snapshot requested (signal {signal_id}); progress in {log}")


@dlq_app.command("list")
def dlq_list(view: str, limit: int = 50) -> None:
    """Show a view's dead letters: where each came from and why it failed."""
    from ops.dead_letters import list_dead_letters

    letters = list_dead_letters(_settings(), view, limit)
    for d in letters:
        h = d.headers
        print(
            f"#{d.partition}:{d.offset} {h.get('dlq.failed_at', '?')} {h.get('dlq.topic')}[{h.get('dlq.partition')}]@"
            f"{h.get('dlq.offset')} {h.get('dlq.error.class')}: {h.get('dlq.error', '')[:200]}"
        )
    print(f"{len(letters)} dead letter(s) shown")


@dlq_app.command("redrive")
def dlq_redrive(view: str) -> None:
    """Send a view's dead letters back to its worker (after fixing the cause); applied, each releases its hold."""
    from ops.dead_letters import redrive

    print(f"re-drove {redrive(_settings(), view)} event(s) to {view}'s worker")


@dlq_app.command("discard")
def dlq_discard(view: str) -> None:
    """Resolve a view's dead letters without applying them (nothing to do, or repaired by reconcile --repair):
    releases the holds they put on the view's published position."""
    from ops.dead_letters import discard

    print(f"discarded {discard(_settings(), view)} dead letter(s) of {view}")


@app.command()
def alerts(
    limit: Annotated[int, typer.Option(help="How many of the latest notifications to show")] = 20,
    name: Annotated[str | None, typer.Option(help="Only notifications of this alert")] = None,
) -> None:
    """Alerts active in Alertmanager, then the notifications its webhook delivered (stored in PostgreSQL)."""
    from ops.alerts import active_alerts, recent_notifications

    settings = _settings()
    try:
        active = active_alerts(settings)
    except Exception as exc:
        print(f"alertmanager at {settings.alertmanager_url} did not answer: {exc}")
        active = []
    print(f"ACTIVE ({len(active)})")
    for a in active:
        labels = a["labels"]
        scope = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
        print(f"  {a['startsAt'][:19]}  {labels.get('severity', '-'):8s} {labels['alertname']:24s} {scope}")
    notes = recent_notifications(settings, limit, name)
    print(f"\nNOTIFICATIONS (latest {len(notes)})")
    for n in notes:
        scope = " ".join(f"{k}={v}" for k, v in sorted(n.labels.items()) if k not in ("alertname", "severity"))
        print(f"  {n.received_at:%Y-%m-%d %H:%M:%S}  {n.status:8s} {n.alertname:24s} {scope}  {n.summary}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
