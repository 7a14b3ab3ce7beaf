"""`python -m api.query`: serve the query API (``FARMACY_QUERY_WORKERS`` processes, default 1, 0 per core)."""

from __future__ import annotations

from fastapi import FastAPI

from api.common.serving import serve, worker_count
from farmacy.logs import allow_core_dumps, configure_logging
from farmacy.settings import Settings


def app_from_settings() -> FastAPI:
    """Run in each worker process: settings, logging and the app are built there."""
    from api.query.app import create_app

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


def main() -> None:
    allow_core_dumps()  # inherited by the worker processes
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    serve(
        "api.query.__main__:app_from_settings",
        "query-api",
        settings.bind_host,
        settings.query_port,
        worker_count(settings.query_workers),
    )


if __name__ == "__main__":
    main()
