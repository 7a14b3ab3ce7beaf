"""`python -m api.command`: serve the command API."""

from __future__ import annotations

import uvicorn

from api.command.app import create_app
from farmacy.logs import configure_logging
from farmacy.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        create_app(settings), host=settings.bind_host, port=settings.command_port, log_config=None, access_log=False
    )


if __name__ == "__main__":
    main()
