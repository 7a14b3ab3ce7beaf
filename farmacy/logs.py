"""structlog setup shared by every process: JSON lines in services, readable lines on a terminal.

Standard-library loggers (uvicorn, elastic_transport, alembic) go through the same renderer, so a
service's log is one stream of JSON objects.
"""

from __future__ import annotations

import logging
import resource
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

# The fault handler cannot report a crash in one of librdkafka's threads: they block every signal, and the kernel kills
# a thread that faults with its signal blocked by the default action, without running any handler. The core file is
# then the only trace, and the default limit of its size is often 0. 1 GiB bounds the bytes written (not the file's
# sparse length); a sink worker's core is about 120 MB, and a truncated one is useless to a debugger.
SERVICE_CORE_LIMIT = 1 << 30


def allow_core_dumps(limit: int = SERVICE_CORE_LIMIT) -> None:
    """Lets the process leave a core file of up to ``limit`` bytes when it dies of a fatal signal, within the hard
    limit; never lowers a higher limit set by whoever started the process. Where the file goes is the kernel's
    core_pattern: with a plain "core", the process's working directory (the repository, for the local stack's
    services), overwritten by the next crash; `gdb <python> core` then shows every thread's native stack, and with
    CPython's gdb extension (python3.*-gdb.py) the Python frames too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    want = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return
    resource.setrlimit(resource.RLIMIT_CORE, (want, hard))


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
