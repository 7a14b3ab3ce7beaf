"""Helpers for tests of the operators' console and the alert path."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import httpx

from farmacy.auth import Role
from farmacy.settings import ROOT, Settings
from ops.alerts import Notification, recent_notifications
from tests.support.tokens import provider_token


def ops_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.ops_port}"


def console_session(settings: Settings) -> httpx.Client:
    """An HTTP client logged in to the console (the session cookie set by the login form)."""
    client = httpx.Client(base_url=ops_url(settings), timeout=30)
    token = provider_token(settings, Role.OPERATOR, "test-operator")
    r = client.post("/console/login", data={"token": token})
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    return client


def notification(
    settings: Settings, alertname: str, status: str, since: datetime, **labels: str
) -> Notification | None:
    """The newest stored notification of the alert with that status, received after ``since``."""
    for n in recent_notifications(settings, 200, alertname):
        if n.status == status and n.received_at >= since and all(n.labels.get(k) == v for k, v in labels.items()):
            return n
    return None


def farmacy_cli(settings: Settings, *args: str) -> str:
    """Runs `farmacy ARGS` (this checkout, this stack's environment) and returns its output."""
    result = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
