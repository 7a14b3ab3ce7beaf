"""`python -m sinks <view>`: run one view's sink worker until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import structlog

from farmacy.logs import configure_logging
from farmacy.settings import Settings
from sinks.bootstrap import bootstrap
from sinks.health_server import serve
from sinks.views import VIEWS


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in VIEWS:
        print(f"usage: python -m sinks {{{','.join(VIEWS)}}}", file=sys.stderr)
        return 2
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    runner = bootstrap(settings, argv[0])
    server = serve(settings.bind_host, settings.sink_port(argv[0]), runner.health)

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
