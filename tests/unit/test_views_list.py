"""The one list of views: every per-view configuration derives from it, and a new view is one folder plus one entry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import sinks.view
import sinks.views
from farmacy.settings import Settings
from farmacy.views import VIEW_NAMES, worker_program
from sinks.view import VIEWS_DIR, View
from sinks.views import load_view, load_views
from stack.manifests import (
    compose_file,
    prometheus_config,
    repository_settings,
    scrape_targets,
    service_programs,
    stale_files,
)

TOY = "toy"


@pytest.fixture
def with_toy() -> Settings:
    return Settings(views=(*VIEW_NAMES, TOY))


def test_every_listed_view_is_a_folder_with_declaration_and_mapping() -> None:
    for name in VIEW_NAMES:
        view = load_view(name)
        assert view.folder == VIEWS_DIR / name
        assert view.mapping["mappings"]["dynamic"] == "strict"


def test_every_view_folder_is_listed() -> None:
    folders = {p.name for p in VIEWS_DIR.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(VIEW_NAMES)


def test_toy_view_gets_its_own_sink_port(with_toy: Settings) -> None:
    ports = [with_toy.sink_port(v) for v in with_toy.views]
    assert len(set(ports)) == len(ports)
    assert with_toy.sink_port(TOY) == with_toy.sink_port_base + len(VIEW_NAMES)
    for port in (with_toy.command_port, with_toy.query_port, with_toy.ops_port, with_toy.watchdog_port):
        assert port not in ports


def test_toy_view_gets_a_supervised_program(with_toy: Settings) -> None:
    programs = {p.name: p for p in service_programs(with_toy, {TOY: 3})}
    program = programs[worker_program(TOY)]
    assert program.command[-4:] == ["-m", "sinks", TOY, "%(process_num)d"]
    assert program.numprocs == 3
    assert programs[worker_program(VIEW_NAMES[0])].numprocs == with_toy.sink_workers


def test_a_views_workers_get_ports_of_their_own(with_toy: Settings) -> None:
    ports = [with_toy.sink_port(v, i) for v in with_toy.views for i in range(with_toy.topic_partitions)]
    assert len(set(ports)) == len(ports)
    others = (with_toy.command_port, with_toy.query_port, with_toy.ops_port, with_toy.watchdog_port)
    assert not set(others) & set(ports)


def test_toy_view_gets_a_compose_service(with_toy: Settings) -> None:
    compose: dict[str, Any] = yaml.safe_load(compose_file(with_toy, (Path("docker-compose.yml")).read_text()))
    service = compose["services"][worker_program(TOY)]
    port = with_toy.sink_port(TOY)
    assert service["command"] == ["python", "-m", "sinks", TOY]
    assert service["expose"] == [str(port)]
    assert f"http://127.0.0.1:{port}/health" in " ".join(service["healthcheck"]["test"])


def test_toy_view_gets_a_prometheus_target(with_toy: Settings) -> None:
    config: dict[str, Any] = yaml.safe_load(prometheus_config(with_toy))
    (sinks_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "sinks"]
    targets = sinks_job["static_configs"][0]["targets"]
    assert f"127.0.0.1:{with_toy.sink_port(TOY)}" in targets
    assert targets == scrape_targets(with_toy)["sinks"]


def test_generated_files_in_the_repository_are_up_to_date() -> None:
    assert stale_files(repository_settings()) == [], "run `bin/farmacy manifests` and commit the result"


def test_a_new_view_is_one_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / TOY
    folder.mkdir()
    (folder / "__init__.py").write_text(
        "from sinks.view import Direct, View\n"
        "VIEW = View(name='toy', root='catalog.meals', sources={'catalog.meals': Direct('id')},\n"
        "            build_sql='SELECT id::text, to_jsonb(m) FROM catalog.meals m WHERE id = ANY(%(ids)s::uuid[])')\n"
    )
    mapping = {"settings": {}, "mappings": {"dynamic": "strict", "_meta": {"index_version": 1}, "properties": {}}}
    (folder / "mapping.json").write_text(json.dumps(mapping))
    monkeypatch.setattr(sinks.views, "__path__", [*sinks.views.__path__, str(tmp_path)])
    monkeypatch.setattr(sinks.view, "VIEWS_DIR", tmp_path)
    toy: View = load_views([TOY])[TOY]
    assert toy.index_name == "toy-v1"
    assert toy.mapping == mapping
