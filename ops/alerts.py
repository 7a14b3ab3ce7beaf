"""Alerts and their notifications: what Alertmanager says is active, and the notifications its webhook delivered
to the ops API (stored in ``ops.notifications``). The CLI (`farmacy alerts`), the ops API and the console read
them through these functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from farmacy.settings import Settings

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's "no end yet"


@dataclass(frozen=True)
class Notification:
    id: int
    received_at: datetime
    status: str
    alertname: str
    severity: str | None
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")


def _time(value: str | None) -> str | None:
    return None if not value or value.startswith("0001-") else value


def store_notification(settings: Settings, payload: dict[str, Any]) -> int:
    """Stores one row per alert of an Alertmanager webhook payload (version 4); returns how many."""
    rows = [
        (
            payload.get("receiver", ""),
            payload.get("groupKey", ""),
            alert["status"],
            alert["labels"].get("alertname", "?"),
            alert["labels"].get("severity"),
            alert.get("fingerprint", ""),
            _time(alert.get("startsAt")),
            _time(alert.get("endsAt")) if alert["status"] == "resolved" else None,
            Jsonb(alert["labels"]),
            Jsonb(alert.get("annotations", {})),
        )
        for alert in payload.get("alerts", [])
    ]
    with psycopg.connect(settings.pg_dsn) as conn, conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO ops.notifications (receiver, group_key, status, alertname, severity, fingerprint,
                                              starts_at, ends_at, labels, annotations)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
    return len(rows)


def recent_notifications(settings: Settings, limit: int = 50, alertname: str | None = None) -> list[Notification]:
    with psycopg.connect(settings.pg_dsn) as conn:
        rows = conn.execute(
            """SELECT id, received_at, status, alertname, severity, labels, annotations, starts_at, ends_at
               FROM ops.notifications WHERE %(name)s::text IS NULL OR alertname = %(name)s
               ORDER BY id DESC LIMIT %(limit)s""",
            {"name": alertname, "limit": limit},
        ).fetchall()
    return [Notification(*row) for row in rows]


def active_alerts(settings: Settings) -> list[dict[str, Any]]:
    """Alerts Alertmanager holds now (firing, not silenced), newest first."""
    resp = httpx.get(f"{settings.alertmanager_url}/api/v2/alerts", params={"active": "true"}, timeout=5)
    alerts: list[dict[str, Any]] = resp.raise_for_status().json()
    return sorted(alerts, key=lambda a: str(a.get("startsAt")), reverse=True)


def firing_rules(settings: Settings) -> list[dict[str, Any]]:
    """Alerts Prometheus evaluates as pending or firing (before Alertmanager groups them)."""
    resp = httpx.get(f"{settings.prometheus_url}/api/v1/alerts", timeout=5)
    alerts: list[dict[str, Any]] = resp.raise_for_status().json()["data"]["alerts"]
    return alerts
