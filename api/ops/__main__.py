"""`python -m api.ops`: serve the ops API."""

from __future__ import annotations

import uvicorn

from api.ops.app import create_app
from farmacy.logs import allow_core_dumps, configure_logging
from farmacy.settings import Settings


def main() -> None:
    allow_core_dumps()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.bind_host, port=settings.ops_port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
