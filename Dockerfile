# The Farmacy platform's Python processes (command API, query API, sink workers, `farmacy` CLI).
# docker-compose.yml builds it and picks the process per service with `command:`.
FROM python:3.11-slim

# farmacy.settings.ROOT is the directory above the `farmacy` package, and db/alembic.ini and
# connectors/*.json are found from it: PYTHONPATH keeps every import (the `farmacy` console script's
# too) on the source tree in /app rather than on the copy pip puts in site-packages.
# PYTHONFAULTHANDLER: a native crash (a SIGSEGV in librdkafka, libpq, ...) writes every thread's Python stack to
# stderr, the container's log (farmacy/logs.py, SERVICE_PYTHON_ENV).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

WORKDIR /app

RUN groupadd --system --gid 10001 farmacy \
    && useradd --system --uid 10001 --gid farmacy --home-dir /app --no-create-home farmacy

COPY . /app
RUN pip install . \
    && rm -rf build ./*.egg-info

USER farmacy

# No default process: each compose service sets its own `command:`.
CMD ["farmacy", "--help"]
