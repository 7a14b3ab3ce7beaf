"""Changing a view while it serves: `farmacy rollout VIEW` (pre-flight, fill a new version, swap, keep the old one)
and `farmacy rollback VIEW` (catch the kept version up, swap back). docs/changing-a-view.md."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import confirm, settings, view_argument, yes_option


def rollout(
    view: Annotated[str, view_argument("View to roll forward to the mapping version of this code")],
    check_only: Annotated[bool, typer.Option("--check", help="Only run the pre-flight checks")] = False,
    finish: Annotated[
        bool, typer.Option("--finish", help="End the rollback window: delete the kept previous version")
    ] = False,
    yes: Annotated[bool, yes_option()] = False,
) -> None:
    """Roll a view forward: pre-flight (new mapping against the live index, the view's SQL against the master), fill
    an index of the new version from the master, swap the alias, resume the workers from their recorded positions, and
    keep the previous version for `farmacy rollback` (until the next rollout or --finish)."""
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    from cli.progress import tracked
    from ops.control import WorkersPause
    from ops.rollout import RolloutError, finish_rollout, preflight, ready_to_roll_out, rollout_view
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    current = settings()
    es = Elasticsearch(current.elasticsearch_urls, request_timeout=120, serializer=OrjsonSerializer())
    if finish:
        confirm(f"Delete the previous version of {view} kept for a rollback?", yes)
        dropped = finish_rollout(es, VIEWS[view])
        print(f"{view}: " + (f"deleted {dropped}; no rollback left" if dropped else "no previous version was kept"))
        return
    workers = WorkersPause(current, es, view)
    with read_pool(current, "rollout") as pool:
        if check_only:
            problems = preflight(pool, es, VIEWS[view])
            for problem in problems:
                print(f"refused: {problem}")
            if problems:
                raise typer.Exit(1)
            print(f"{view}: pre-flight passed (mapping version {VIEWS[view].index_version})")
            return
        confirm(f"Roll {view} forward to mapping version {VIEWS[view].index_version}?", yes)
        try:
            ready_to_roll_out(pool, es, VIEWS[view])
        except RolloutError as exc:
            print(f"refused: {exc}")
            raise typer.Exit(1) from None
        with tracked(f"filling {view}", "roots") as progress:
            result = rollout_view(
                pool,
                es,
                VIEWS[view],
                workers.pause,
                workers.resume,
                progress=progress,
                replicas=current.view_replicas,
                checked=True,
            )
    es.close()
    print(
        f"{view}: {result.documents} documents into {result.new_index} in {result.seconds:.1f}s; alias swapped from "
        f"{result.old_index}, kept for `farmacy rollback {view}`"
        + (f"; deleted {result.dropped}, kept before" if result.dropped else "")
    )


def rollback(
    view: Annotated[str, view_argument("View to swap back to its kept previous version")],
    yes: Annotated[bool, yes_option()] = False,
) -> None:
    """Roll a view back: catch its kept previous version up from the master (the workers paused meanwhile), swap the
    alias back to it, resume the workers (which write it from then on); the version left is kept in its place."""
    confirm(f"Swap {view} back to its previous version?", yes)
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    from cli.progress import tracked
    from ops.control import WorkersPause
    from ops.rollout import RolloutError, rollback_view
    from sinks.bootstrap import read_pool
    from sinks.views import VIEWS

    current = settings()
    es = Elasticsearch(current.elasticsearch_urls, request_timeout=120, serializer=OrjsonSerializer())
    workers = WorkersPause(current, es, view)
    try:
        with read_pool(current, "rollback") as pool, tracked(f"catching {view} up", "roots") as progress:
            result = rollback_view(pool, es, VIEWS[view], workers.pause, workers.resume, progress=progress)
    except RolloutError as exc:
        print(f"refused: {exc}")
        raise typer.Exit(1) from None
    es.close()
    print(
        f"{view}: {result.new_index} caught up ({result.documents} documents) and live again in {result.seconds:.1f}s; "
        f"{result.old_index} kept"
    )


def register(app: typer.Typer) -> None:
    app.command()(rollout)
    app.command()(rollback)
