"""What a deployment is set up with: the schema migrations, the demo dataset, and the files rendered from the list
of views."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import settings


def db_upgrade() -> None:
    """Apply the schema migrations (Alembic) to the configured database."""
    from farmacy import migrations

    migrations.upgrade(settings())


def seed() -> None:
    """Seed the demo dataset through the command API (skipped when the catalog is not empty)."""
    from stack.demo import seed_demo

    seed_demo(settings())


def manifests(
    check: Annotated[bool, typer.Option(help="Only report files that differ; exit 1 if any")] = False,
) -> None:
    """Render what derives from the list of views: docker-compose.yml's sink services, monitoring/prometheus.yml,
    deploy/k8s/base/generated/."""
    from stack.manifests import repository_settings, stale_files, write_files

    current = repository_settings()
    changed = stale_files(current) if check else write_files(current)
    for path in changed:
        print(f"{'differs' if check else 'rewrote'}: {path}")
    raise typer.Exit(1 if check and changed else 0)


def register(app: typer.Typer) -> None:
    app.command("db-upgrade")(db_upgrade)
    app.command()(seed)
    app.command()(manifests)
