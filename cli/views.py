"""The views and what feeds them: the topics, reconciliation with the master, replay, blue/green rebuild, and
incremental snapshots of the captured tables."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from cli.common import check_views, confirm, json_option, print_json, settings, view_argument, yes_option

POLL_S = 1.0


def topics(json_output: Annotated[bool, json_option()] = False) -> None:
    """List the Kafka topics with their end offsets."""
    from confluent_kafka import Consumer, TopicPartition

    current = settings()
    consumer = Consumer({"bootstrap.servers": current.kafka_bootstrap, "group.id": f"{current.stack_name}-cli-topics"})
    found = []
    try:
        md = consumer.list_topics(timeout=10)
        for name in sorted(md.topics):
            if name.startswith("__"):
                continue
            ends = [
                consumer.get_watermark_offsets(TopicPartition(name, p), timeout=5)[1]
                for p in md.topics[name].partitions
            ]
            found.append({"topic": name, "partitions": len(ends), "end_offsets": ends})
    finally:
        consumer.close()
    if json_output:
        print_json(found)
        return
    for t in found:
        print(f"{t['topic']:50s} partitions={t['partitions']} end_offsets={t['end_offsets']}")


def reconcile(
    view: Annotated[list[str] | None, typer.Option(help="View(s) to check; default: all", callback=check_views)] = None,
    repair: Annotated[bool, typer.Option(help="Rebuild and rewrite every drifted document")] = False,
    show: Annotated[int, typer.Option(help="How many drifted ids to list per kind")] = 5,
) -> None:
    """Compare each view with the projection of the master: missing, extra and different documents."""
    from elasticsearch import Elasticsearch

    from ops.reconcile import reconcile as run
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    current = settings()
    es = Elasticsearch(current.elasticsearch_urls, request_timeout=60)
    drifted = 0
    with read_pool(current, "reconcile") as pool:
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


def replay(
    view: Annotated[str, view_argument("View whose worker re-reads its topics")],
    from_offset: Annotated[
        list[str] | None, typer.Option(help="TOPIC:PARTITION:OFFSET to restart from (repeatable)")
    ] = None,
    from_beginning: Annotated[bool, typer.Option(help="Re-read every topic of the view from its start")] = False,
    since: Annotated[
        str | None, typer.Option(help="Re-read from a time: 2026-11-25T10:00Z, or a duration back from now: 1h, 30m")
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Follow the worker until it has caught up (progress with rate and ETA)")
    ] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to follow the catch-up before giving up")] = 600.0,
) -> None:
    """Replay a view from a point in its topics: its running workers move their group's offsets there, then
    follow their catch-up until they have read everything again (--no-wait returns at once).

    Replays are safe: documents are rebuilt from the master and versioned, so old events change nothing.
    """
    from ops.replay import parse_offset, parse_since, replay_view

    if not from_offset and not from_beginning and since is None:
        raise typer.BadParameter("give --from-beginning, --since or at least one --from-offset")
    for spec in from_offset or []:
        try:
            parse_offset(spec)
        except ValueError:
            raise typer.BadParameter(f"{spec!r}: give TOPIC:PARTITION:OFFSET", param_hint="'--from-offset'") from None
    try:
        when = parse_since(since) if since is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    current = settings()
    moved = replay_view(current, view, from_offset or [], from_beginning, since=when)
    for tp in moved:
        print(f"{tp.topic}[{tp.partition}] -> offset {tp.offset}")
    if wait:
        _follow_catch_up(view, timeout)


def _follow_catch_up(view: str, timeout: float) -> None:
    """Shows the worker's catch-up (records its group has committed since the replay) until it has none left."""
    from confluent_kafka.admin import AdminClient

    from cli.progress import tracked
    from ops.status import view_lag

    current = settings()
    admin = AdminClient({"bootstrap.servers": current.kafka_bootstrap})
    deadline = time.monotonic() + timeout
    total = left = sum(view_lag(current, admin, view).values())
    with tracked(f"{view} catching up", "records") as progress:
        while True:
            total = max(total, left)  # new changes while it catches up add to the way to go
            progress(total - left, total)
            if left == 0 or time.monotonic() >= deadline:
                break
            time.sleep(POLL_S)
            left = sum(view_lag(current, admin, view).values())
    if left:
        print(f"{view}: still {left} record(s) behind after {timeout:.0f}s; `farmacy status` shows where it stands")
        raise typer.Exit(1)
    print(f"{view}: caught up, {total} record(s) read again")


def rebuild(
    view: Annotated[str, view_argument("View to rebuild into a new index")],
    keep_old: Annotated[bool, typer.Option(help="Keep the previous index instead of deleting it")] = False,
    yes: Annotated[bool, yes_option()] = False,
) -> None:
    """Blue/green rebuild: pause the view's workers, fill a new index from the master, swap the alias atomically,
    resume the workers.

    The previous index is deleted unless --keep-old: asks first, unless --yes.
    """
    if not keep_old:
        confirm(f"Rebuild {view} into a new index and delete its current index?", yes)
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    from cli.progress import tracked
    from ops.bluegreen import rebuild_view
    from ops.control import WorkersPause
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    current = settings()
    es = Elasticsearch(current.elasticsearch_urls, request_timeout=120, serializer=OrjsonSerializer())
    workers = WorkersPause(current, es, view)

    with read_pool(current, "rebuild") as pool, tracked(f"filling {view}", "roots") as progress:
        result = rebuild_view(
            pool,
            es,
            VIEWS[view],
            workers.pause,
            workers.resume,
            delete_old=not keep_old,
            progress=progress,
            replicas=current.view_replicas,
        )
    es.close()
    print(
        f"{view}: {result.documents} documents into {result.new_index} in {result.seconds:.1f}s; alias swapped "
        f"from {result.old_index}" + (" (kept)" if keep_old else " (deleted)")
    )


def _check_tables(tables: list[str]) -> list[str]:
    from ops.snapshots import captured_tables

    captured = captured_tables(settings())
    unknown = [t for t in tables if t not in captured]
    if unknown:
        listed = ", ".join(sorted(captured))
        raise typer.BadParameter(
            f"not captured by the connector: {', '.join(unknown)}; the captured tables are {listed}"
        )
    return tables


def snapshot(
    tables: Annotated[list[str], typer.Argument(help="schema.table, e.g. catalog.meals", callback=_check_tables)],
    wait: Annotated[
        bool, typer.Option(help="Follow the snapshot until every row was re-emitted (progress with rate and ETA)")
    ] = True,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds to follow it before returning")] = 300.0,
) -> None:
    """Start an incremental snapshot of tables (Debezium re-emits their rows while streaming goes on), then follow
    it: records appended to the tables' topics against their row counts (--no-wait returns once requested)."""
    current = settings()
    if not wait:
        from ops.snapshots import request_incremental_snapshot

        signal_id = request_incremental_snapshot(current, tables)
        log = current.stack_dir / "logs" / "connect.log"
        print(f"incremental snapshot requested (signal {signal_id}); progress in {log}")
        return
    import threading

    from cli.progress import tracked
    from ops.jobs import Job, snapshot_work

    job = Job("snapshot", ", ".join(tables))
    work = snapshot_work(current, tables, wait_s=timeout)
    outcome: list[str | BaseException] = []

    def run() -> None:
        try:
            outcome.append(work(job))
        except Exception as exc:  # reported below, on the CLI's thread
            outcome.append(exc)

    thread = threading.Thread(target=run, name="snapshot", daemon=True)
    with tracked(f"snapshot of {job.target}", "rows") as progress:
        thread.start()
        while thread.is_alive():
            progress(job.done, job.total)
            thread.join(POLL_S)
        progress(job.done, job.total)
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    print(f"incremental snapshot of {job.target}: {outcome[0]}")


def register(app: typer.Typer) -> None:
    app.command()(topics)
    app.command()(reconcile)
    app.command()(replay)
    app.command()(rebuild)
    app.command()(snapshot)
