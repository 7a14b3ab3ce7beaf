"""structlog setup shared by every process: JSON lines in services, readable lines on a terminal.

Standard-library loggers (uvicorn, elastic_transport, alembic) go through the same renderer, so a
service's log is one stream of JSON objects.
"""

from __future__ import annotations

import logging
import sys

import structlog

QUIET = {"elastic_transport.transport": logging.WARNING, "uvicorn.access": logging.WARNING, "httpx": logging.WARNING}

# The environment every Python service of ours runs with, wherever it runs (supervisord's programs, compose's services
# through the image, Kubernetes' containers). On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT), which
# comes from native code such as librdkafka, libpq or uvloop, the interpreter writes every thread's Python stack to
# stderr, which is the service's log; without it such a death leaves no trace of where it happened. Set in the
# environment rather than by faulthandler.enable() in code, it is on from the interpreter's start, before the imports
# that load those libraries (a sink imports librdkafka before it configures logging), and for every entry point alike.
SERVICE_PYTHON_ENV = {"PYTHONFAULTHANDLER": "1"}


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, lvl in QUIET.items():
        logging.getLogger(name).setLevel(lvl)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
