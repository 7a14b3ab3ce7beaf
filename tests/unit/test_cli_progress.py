"""The CLI's progress displays (cli/progress.py): the count, the rate and the time left of a long operation, on
rebuild, on a replay's catch-up and on a snapshot (each followed until done, or not with --no-wait). No stack: the
operations are stubbed and the clock is a fake one."""

from __future__ import annotations

import html
import io
import time
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner, Result

from cli.main import app
from cli.progress import tracked
from farmacy.settings import ROOT
from ops.bluegreen import RebuildResult

pytestmark = pytest.mark.usefixtures("clean_env")


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="farmacy")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _recording() -> Console:
    return Console(record=True, file=io.StringIO(), width=140, force_terminal=True, color_system=None)


def test_a_display_shows_done_of_total_the_rate_and_the_time_left() -> None:
    clock, console = Clock(), _recording()
    with tracked("filling catalog", "roots", console=console, get_time=clock) as progress:
        for second, done in enumerate((0, 250, 500)):
            clock.now = 1000.0 + second
            progress(done, 2000)
    frame = console.export_text()
    assert "filling catalog" in frame
    assert "500/2000 roots" in frame
    assert "250 roots/s" in frame  # 500 roots in the 2 s since the first sample
    assert "ETA 0:00:06" in frame  # 1500 left at 250/s


def test_without_a_rate_yet_the_time_left_is_unknown() -> None:
    clock, console = Clock(), _recording()
    with tracked("filling catalog", "roots", console=console, get_time=clock) as progress:
        progress(0, 100)
        clock.now += 1  # past the columns' refresh interval
    frame = console.export_text()
    assert "0/100 roots" in frame and "- roots/s" in frame and "ETA -:--:--" in frame


@pytest.fixture
def rebuild_in_steps(monkeypatch: pytest.MonkeyPatch, rebuild_collaborators: None) -> None:
    def rebuild_view(_pool: Any, _es: Any, view: Any, *_args: Any, progress: Any = None, **_kwargs: Any) -> Any:
        for done in (500, 1000, 1200):
            progress(done, 1200)
        return RebuildResult(old_index=f"{view.name}-v1", new_index=f"{view.name}-v2", documents=1200, seconds=0.1)

    monkeypatch.setattr("ops.bluegreen.rebuild_view", rebuild_view)


@pytest.mark.usefixtures("rebuild_in_steps")
def test_rebuild_shows_its_fill_with_a_rate_then_its_outcome() -> None:
    result = _run("rebuild", "catalog", "--yes")
    assert result.exit_code == 0, result.output
    assert "filling catalog" in result.output and "1200/1200 roots" in result.output
    assert "roots/s" in result.output and "ETA" in result.output
    assert "catalog: 1200 documents into catalog-v2" in result.output


@pytest.fixture
def replayed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """replay_view stubbed; the view's lag goes 40, 25, 10, 0 as the worker catches up (each read pops one)."""
    from confluent_kafka import TopicPartition

    lags = [40, 25, 10, 0]
    monkeypatch.setattr("ops.replay.replay_view", lambda *_a, **_k: [TopicPartition("farmacy.catalog.meals", 0, 3)])
    monkeypatch.setattr("ops.status.view_lag", lambda *_a: {"farmacy.catalog.meals": lags.pop(0) if lags else 0})
    monkeypatch.setattr("cli.views.POLL_S", 0)
    return lags


def test_replay_follows_the_catch_up_until_caught_up(replayed: list[int]) -> None:
    result = _run("replay", "catalog", "--from-beginning")
    assert result.exit_code == 0, result.output
    assert "farmacy.catalog.meals[0] -> offset 3" in result.output
    assert "catalog catching up" in result.output and "40/40 records" in result.output
    assert "catalog: caught up, 40 record(s) read again" in result.output
    assert replayed == []


def test_replay_with_no_wait_returns_at_once(replayed: list[int]) -> None:
    result = _run("replay", "catalog", "--from-beginning", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "-> offset 3" in result.output and "catching up" not in result.output
    assert replayed == [40, 25, 10, 0]  # the lag was never read


def test_replay_that_does_not_catch_up_in_time_says_so(monkeypatch: pytest.MonkeyPatch, replayed: list[int]) -> None:
    monkeypatch.setattr("ops.status.view_lag", lambda *_a: {"farmacy.catalog.meals": 40})
    result = _run("replay", "catalog", "--from-beginning", "--timeout", "1")
    assert result.exit_code == 1
    assert "catalog: still 40 record(s) behind after 1s" in result.output


def test_a_single_large_step_still_gives_a_rate_and_the_time_left() -> None:
    """A worker commits its offsets in large steps: one sample is no rate for rich, the average since the start is."""
    clock, console = Clock(), _recording()
    with tracked("orders catching up", "records", console=console, get_time=clock) as progress:
        clock.now += 4
        progress(2000, 3000)
        clock.now += 0.1
    frame = console.export_text()
    assert "2000/3000 records" in frame and "488 records/s" in frame and "ETA 0:00:03" in frame


def test_the_documented_capture_shows_a_catch_up_with_its_rate_and_time_left() -> None:
    """docs/cli-replay-progress.svg, shown by the README: a capture of this display during a real replay."""
    svg = (ROOT / "docs" / "cli-replay-progress.svg").read_text()
    text = html.unescape(svg).replace("\xa0", " ")  # rich writes spaces as non-breaking ones
    assert "catching up" in text and "records/s" in text and "ETA 0:" in text
    assert "docs/cli-replay-progress.svg" in (ROOT / "README.md").read_text()


@pytest.fixture
def snapshot_in_steps(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """ops.jobs.snapshot_work stubbed: 90 rows re-emitted in three steps."""
    started: list[list[str]] = []

    def snapshot_work(_settings: Any, tables: list[str], wait_s: float) -> Any:
        def work(job: Any) -> str:
            started.append(tables)
            job.total = 90
            for done in (30, 60, 90):
                job.done = done
                time.sleep(0.05)
            return "signal s-1: 90 rows re-emitted"

        return work

    monkeypatch.setattr("ops.jobs.snapshot_work", snapshot_work)
    monkeypatch.setattr("ops.snapshots.request_incremental_snapshot", lambda *_a: "s-2")
    monkeypatch.setattr("cli.views.POLL_S", 0.01)
    return started


def test_snapshot_follows_the_rows_re_emitted(snapshot_in_steps: list[list[str]]) -> None:
    result = _run("snapshot", "catalog.meals")
    assert result.exit_code == 0, result.output
    assert snapshot_in_steps == [["catalog.meals"]]
    assert "snapshot of catalog.meals" in result.output and "90/90 rows" in result.output
    assert "rows/s" in result.output and "ETA" in result.output
    assert "incremental snapshot of catalog.meals: signal s-1: 90 rows re-emitted" in result.output


def test_snapshot_with_no_wait_only_requests_it(snapshot_in_steps: list[list[str]]) -> None:
    result = _run("snapshot", "catalog.meals", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "incremental snapshot requested (signal s-2)" in result.output
    assert snapshot_in_steps == []
