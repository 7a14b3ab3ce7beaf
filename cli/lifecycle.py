"""The local stack's lifecycle: up, down, restart, scale, status, and the test suite run against it."""

from __future__ import annotations

import subprocess
import sys
from typing import Annotated

import typer

from cli.common import PROFILE_HELP, json_option, print_json, settings, use_profile, view_argument
from farmacy.settings import ROOT, Profile, Settings, WorkerControlKind, http_url


def up(
    seed: Annotated[bool, typer.Option(help="Seed the demo dataset")] = True,
    profile: Annotated[Profile | None, typer.Option(help=PROFILE_HELP)] = None,
) -> None:
    """Install what is missing, start every component in order, wait until healthy, seed demo data."""
    from stack import lifecycle

    use_profile(profile)
    current = settings()
    lifecycle.up(current, seed=seed)
    print_status(current)


def down() -> None:
    """Stop every component (data is kept)."""
    from stack import lifecycle

    lifecycle.down(settings())


def restart(names: Annotated[list[str], typer.Argument(help="Programs, e.g. command-api sink-inventory")]) -> None:
    """Restart supervised programs (after a code or config change)."""
    from stack.lifecycle import layout_for
    from stack.supervisor import Supervisor

    sup = Supervisor(layout_for(settings()))
    for name in names:
        sup.stop(name)
        sup.start(name)
        for member in sup.members(name):
            print(f"{member}: {sup.info(member)['statename']}")


def scale(
    view: Annotated[str, view_argument("The view")],
    workers: Annotated[int, typer.Argument(help="How many sink workers the view runs (at most its partitions)")],
) -> None:
    """Run N sink workers for a view, in one consumer group: Kafka shares the view's partitions among them.

    The count is kept in the view's sync document: Kubernetes' autoscaler follows it (through the workers' /control),
    and so does the local stack's scaler; this waits for it. Compose has none: this runs docker compose up --scale."""
    from elasticsearch import Elasticsearch

    from ops.control import set_worker_count

    current = settings()
    es = Elasticsearch(current.elasticsearch_urls, request_timeout=30)
    try:
        set_worker_count(current, es, view, workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        es.close()
    if current.worker_control is WorkerControlKind.COMPOSE:
        from ops.workers import ComposeWorkers

        ComposeWorkers(current).scale(view, workers)
    elif current.worker_control is WorkerControlKind.SUPERVISOR:
        from stack.lifecycle import wait_scaled

        wait_scaled(current, view, workers)  # the stack's scaler applies it (stack/scaler.py)
    print(f"{view}: {workers} worker(s)")


def status(json_output: Annotated[bool, json_option()] = False) -> None:
    """Show each component's process state and health, and the connector's state (exit 1 when one is unhealthy)."""
    current = settings()
    if json_output:
        from stack import lifecycle

        rows = lifecycle.status(current)
        healthy = _healthy(rows)
        print_json({"stack": current.stack_name, "healthy": healthy, "components": rows, "links": _links(current)})
    else:
        healthy = print_status(current)
    raise typer.Exit(0 if healthy else 1)


def _healthy(rows: list[dict[str, str]]) -> bool:
    return all(r["healthy"] == "yes" for r in rows)


def _links(current: Settings) -> dict[str, str]:
    """Where to look at each part of the stack."""
    return {
        "command API": f"{http_url('127.0.0.1', current.command_port)}/docs",
        "query API": f"{http_url('127.0.0.1', current.query_port)}/docs",
        "connect": f"{current.connect_url}/connectors/{current.connector_name}/status",
        "elasticsearch": f"{current.elasticsearch_url}/_cat/indices?v",
        "ops console": f"{http_url('127.0.0.1', current.ops_port)}/console",
        "prometheus": f"{current.prometheus_url}/alerts",
        "alertmanager": current.alertmanager_url,
        "logs": str(current.stack_dir / "logs"),
    }


def print_status(current: Settings) -> bool:
    from stack import lifecycle

    rows = lifecycle.status(current)
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in rows[0]}
    print("  ".join(k.upper().ljust(widths[k]) for k in rows[0]))
    for r in rows:
        print("  ".join(r[k].ljust(widths[k]) for k in r))
    print(f"\n{'stack':12s} {current.stack_name}")
    for name, url in _links(current).items():
        print(f"{name:12s} {url}")
    return _healthy(rows)


def test(ctx: typer.Context) -> None:
    """Start the stack if it is not up, then run the whole test suite (extra args go to pytest)."""
    import os

    from stack import lifecycle
    from stack.k8s_tools import ensure_installed
    from stack.system import find_chromium, find_promtool

    current = settings()
    find_promtool()  # the monitoring tests run the alert-rule tests with it
    find_chromium()  # the console's browser tests (tests/browser) drive it through Playwright
    ensure_installed(current)  # kustomize and kubeconform: the deploy/k8s tests build and validate every overlay
    if not lifecycle.is_up(current):
        lifecycle.up(current, seed=True)
    env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
    result = subprocess.run([sys.executable, "-m", "pytest", *ctx.args], cwd=ROOT, env=env)
    raise typer.Exit(result.returncode)


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(restart)
    app.command()(scale)
    app.command()(status)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(test)
