"""Outgoing notifications through Alertmanager itself: the config `farmacy up` renders, with a Slack-compatible
webhook and e-mail set, makes Alertmanager post to the webhook and send mail over SMTP. An Alertmanager of its
own (Debian's binary, as in the stack) against a local SMTP sink (aiosmtpd) and a local webhook catcher."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from farmacy.settings import Settings
from stack.manifests import alertmanager_config
from stack.system import find_monitoring
from stack.versions import load_versions
from tests.support.wait import wait_until

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, _Mailbox]]:
    box, port = _Mailbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@pytest.fixture
def webhook_catcher() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX", received
    finally:
        server.shutdown()


def test_alertmanager_sends_email_and_posts_the_outgoing_webhook(
    tmp_path: Path, smtp_sink: tuple[int, _Mailbox], webhook_catcher: tuple[str, list[dict[str, Any]]]
) -> None:
    smtp_port, mailbox = smtp_sink
    hook_url, posts = webhook_catcher
    settings = Settings(
        _env_file=None,
        alert_outgoing_webhook_url=hook_url,
        alert_email_to="oncall@farmacy.example",
        alert_smtp_smarthost=f"127.0.0.1:{smtp_port}",
        ops_port=_free_port(),  # nobody listens: the stored-notification receiver is not what this test is about
    )
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(settings, group_wait="1s", group_interval="2s")))
    port = _free_port()
    binary = find_monitoring(load_versions()).alertmanager
    proc = subprocess.Popen(
        [
            str(binary),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ready(base), 30, "alertmanager to be ready", interval=0.2)
        alert = {
            "labels": {"alertname": "ViewStale", "view": "catalog", "severity": "critical"},
            "annotations": {"summary": "catalog has not applied new changes for over 45 seconds"},
        }
        httpx.post(f"{base}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()

        wait_until(lambda: posts, 60, "the outgoing webhook post", interval=0.2)
        assert "ViewStale" in posts[0]["attachments"][0]["title"]
        assert "catalog has not applied" in posts[0]["attachments"][0]["text"]
        wait_until(lambda: mailbox.messages, 60, "the e-mail", interval=0.2)
        mail = message_from_bytes(mailbox.messages[0])
        assert mail["To"] == "oncall@farmacy.example"
        assert "ViewStale" in mail["Subject"]
    finally:
        proc.terminate()
        proc.wait(10)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
