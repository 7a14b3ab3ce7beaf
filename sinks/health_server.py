"""A tiny HTTP endpoint per worker: /health (JSON), /metrics (Prometheus) and /control (JSON: the worker count an
operator asked for, sinks/control.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def serve(
    host: str,
    port: int,
    health: Callable[[], dict[str, Any]],
    control: Callable[[], dict[str, Any]] | None = None,
) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body, ctype, code = generate_latest(), CONTENT_TYPE_LATEST, 200
            elif self.path.startswith("/health"):
                state = health()
                body = json.dumps(state).encode()
                ctype, code = "application/json", 200 if state.get("status") == "ok" else 503
            elif self.path.startswith("/control") and control is not None:
                body, ctype, code = json.dumps(control()).encode(), "application/json", 200
            else:
                body, ctype, code = b"not found", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    return server
