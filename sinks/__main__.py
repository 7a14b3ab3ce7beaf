"""`python -m sinks <view> [worker]`: run one of a view's sink workers until SIGTERM/SIGINT.

``worker`` (0-based, default 0) only picks the worker's /health port and client ids: the workers of a view are one
consumer group, and Kafka shares the partitions among them."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import structlog

from farmacy.logs import allow_core_dumps, configure_logging
from farmacy.settings import Settings
from sinks.bootstrap import bootstrap
from sinks.health_server import serve
from sinks.views import VIEWS


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or argv[0] not in VIEWS or (len(argv) == 2 and not argv[1].isdigit()):
        print(f"usage: python -m sinks {{{','.join(VIEWS)}}} [worker]", file=sys.stderr)
        return 2
    worker = int(argv[1]) if len(argv) == 2 else 0
    allow_core_dumps()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    structlog.contextvars.bind_contextvars(worker=worker)
    runner = bootstrap(settings, argv[0], worker)
    control = runner.control

    def wanted() -> dict[str, object]:
        count = control.workers(settings.sink_workers) if control is not None else settings.sink_workers
        return {"view": argv[0], "workers": count}

    server = serve(settings.bind_host, settings.sink_port(argv[0], worker), runner.health, wanted)

    def stop(signum: int, _frame: FrameType | None) -> None:
        structlog.get_logger("sink").info("signal received; finishing the current batch", signal=signum)
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        runner.run()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
