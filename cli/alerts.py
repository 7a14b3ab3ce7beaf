"""Alerts: active in Alertmanager, and the notifications its webhook delivered."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.common import json_option, print_json, settings


def alerts(
    limit: Annotated[int, typer.Option(help="How many of the latest notifications to show")] = 20,
    name: Annotated[str | None, typer.Option(help="Only notifications of this alert")] = None,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Alerts active in Alertmanager, then the notifications its webhook delivered (stored in PostgreSQL)."""
    from ops.alerts import active_alerts, recent_notifications

    current = settings()
    try:
        active = active_alerts(current)
    except Exception as exc:
        # On stderr with --json, so that stdout stays one JSON document.
        print(
            f"alertmanager at {current.alertmanager_url} did not answer: {exc}",
            file=sys.stderr if json_output else None,
        )
        active = []
    notes = recent_notifications(current, limit, name)
    if json_output:
        print_json({"active": active, "notifications": notes})
        return
    print(f"ACTIVE ({len(active)})")
    for a in active:
        labels = a["labels"]
        scope = " ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
        print(f"  {a['startsAt'][:19]}  {labels.get('severity', '-'):8s} {labels['alertname']:24s} {scope}")
    print(f"\nNOTIFICATIONS (latest {len(notes)})")
    for n in notes:
        scope = " ".join(f"{k}={v}" for k, v in sorted(n.labels.items()) if k not in ("alertname", "severity"))
        print(f"  {n.received_at:%Y-%m-%d %H:%M:%S}  {n.status:8s} {n.alertname:24s} {scope}  {n.summary}")


def register(app: typer.Typer) -> None:
    app.command()(alerts)
