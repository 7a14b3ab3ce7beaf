"""Where the tests find the real engines: testcontainers (Docker compose) when a Docker engine answers,
the local stack (started when it is not up) otherwise."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from farmacy.settings import ROOT, Settings, http_url


def docker_engine_available() -> bool:
    if os.environ.get("FARMACY_TEST_STACK") == "local":
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@contextmanager
def running_stack() -> Iterator[Settings]:
    if docker_engine_available():
        from testcontainers.compose import DockerCompose

        # docker-compose.yml publishes every port at its settings default, on loopback.
        settings = Settings()
        with DockerCompose(str(ROOT), compose_file_name="docker-compose.yml", wait=True) as compose:
            compose.wait_for(f"{http_url('127.0.0.1', settings.command_port)}/health")
            yield settings
        return
    from stack import lifecycle

    settings = Settings()
    if not lifecycle.is_up(settings):
        lifecycle.up(settings, seed=True)
    yield settings


@contextmanager
def scaled(settings: Settings, views: list[str], count: int) -> Iterator[None]:
    """Runs ``count`` workers for each of ``views`` (`farmacy scale`: the count recorded in the view's sync document,
    which the stack's scaler follows), then each view's count as it was. The local stack runs one worker per view by
    default; tests of scale-out ask for more."""
    from elasticsearch import Elasticsearch

    from ops.control import set_worker_count
    from stack import lifecycle, scale

    before = scale.workers(settings, lifecycle.layout_for(settings))
    changed = [v for v in views if before[v] != count]
    es = Elasticsearch(settings.elasticsearch_urls, request_timeout=30)
    try:
        for view in changed:
            set_worker_count(settings, es, view, count)
            lifecycle.wait_scaled(settings, view, count)
        yield
    finally:
        for view in changed:
            set_worker_count(settings, es, view, before[view])
            lifecycle.wait_scaled(settings, view, before[view])
        es.close()
