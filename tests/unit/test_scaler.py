"""The local stack's scaler (stack/scaler.py): what it reads its arguments as, and which counts it applies."""

from __future__ import annotations

import json
from pathlib import Path

from stack.scaler import Follows, changes, command


def _follows(tmp_path: Path, running: dict[str, int] | None) -> Follows:
    counts = tmp_path / "sink-workers.json"
    if running is not None:
        counts.write_text(json.dumps(running))
    return Follows(counts, 1, ["http://127.0.0.1:9200/farmacy-sync"], ["inventory", "catalog"])


def test_its_command_line_gives_back_what_it_follows(tmp_path: Path) -> None:
    follows = _follows(tmp_path, None)
    assert Follows.parse(command(follows)[3:]) == follows


def test_only_a_recorded_count_that_differs_from_what_runs_is_applied(tmp_path: Path) -> None:
    follows = _follows(tmp_path, {"inventory": 2})
    recorded = {"inventory": 2, "catalog": 3, "orders": 4}  # orders: a view this stack does not run
    assert changes(follows, recorded) == {"catalog": 3}


def test_a_view_the_counts_do_not_name_runs_the_default(tmp_path: Path) -> None:
    follows = _follows(tmp_path, None)
    assert changes(follows, {"inventory": 1, "catalog": 2}) == {"catalog": 2}


def test_the_counts_are_never_read_half_written(tmp_path: Path) -> None:
    """`farmacy scale`'s count is saved while the scaler and `wait_scaled` read the file: a reader sees the old counts
    or the new ones, never an empty file."""
    import threading

    from farmacy.settings import Settings
    from stack import scale
    from stack.layout import Layout
    from stack.versions import load_versions

    settings, layout = Settings(_env_file=None), Layout(tmp_path, load_versions())
    views = settings.views
    done = threading.Event()
    seen: list[dict[str, int]] = []
    failures: list[BaseException] = []

    def read() -> None:
        while not done.is_set():
            try:
                seen.append(scale.workers(settings, layout))
            except Exception as failure:  # what a reader would have raised is the finding
                failures.append(failure)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(400):
            scale.save(settings, layout, views[0], 1 + i % 2)
    finally:
        done.set()
        reader.join()
    assert failures == []
    assert seen and all(counts[views[0]] in (1, 2, settings.sink_workers) for counts in seen)
    assert not [p for p in (tmp_path / "conf").iterdir() if p.name != "sink-workers.json"]  # nothing left aside


def test_a_count_is_applied_only_once_recorded_so(tmp_path: Path) -> None:
    """`wait_scaled` waits for the applied count: the saved one is written before supervisord runs it."""
    from farmacy.settings import Settings
    from stack import scale
    from stack.layout import Layout
    from stack.versions import load_versions

    settings, layout = Settings(_env_file=None), Layout(tmp_path, load_versions())
    view, other = settings.views[0], settings.views[1]
    default = settings.sink_workers
    assert scale.applied(settings, layout) == dict.fromkeys(settings.views, default)  # a stack never scaled
    scale.save(settings, layout, view, 2)
    assert scale.workers(settings, layout)[view] == 2
    assert scale.applied(settings, layout)[view] == default  # saved, not yet running
    scale.record_applied(layout, {view: 2})
    assert scale.applied(settings, layout) == {**dict.fromkeys(settings.views, default), view: 2}
    scale.record_applied(layout, {other: 1})
    assert scale.applied(settings, layout)[view] == 2  # each view's record kept
