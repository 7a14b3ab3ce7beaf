"""How many sink workers each view runs in the local stack: ``settings.sink_workers``, unless `farmacy scale VIEW N`
set another count for the view, kept in the stack directory (``conf/sink-workers.json``) so restarts keep it.

The counts are saved before supervisord is given them. Once a view's workers run under a count, it is also recorded
as applied (``conf/sink-workers.applied.json``): what a caller waiting for a scale waits for."""

from __future__ import annotations

import json
import os
from pathlib import Path

from farmacy.settings import Settings
from stack.layout import Layout


def counts_file(layout: Layout) -> Path:
    return layout.conf / "sink-workers.json"


def applied_file(layout: Layout) -> Path:
    return layout.conf / "sink-workers.applied.json"


def workers(settings: Settings, layout: Layout) -> dict[str, int]:
    """Workers per view of this stack."""
    return _counts(settings, counts_file(layout))


def applied(settings: Settings, layout: Layout) -> dict[str, int]:
    """Workers per view that run under supervisord now, as last recorded (`farmacy up` records every view's); the
    configured default for a view never recorded."""
    return _counts(settings, applied_file(layout))


def save(settings: Settings, layout: Layout, view: str, count: int) -> None:
    settings.check_worker_count(view, count)
    _write(counts_file(layout), {**_read(counts_file(layout)), view: count})


def record_applied(layout: Layout, counts: dict[str, int]) -> None:
    """``counts`` now run (every worker of each view serving under them)."""
    _write(applied_file(layout), {**_read(applied_file(layout)), **counts})


def _counts(settings: Settings, path: Path) -> dict[str, int]:
    saved = _read(path)
    return {v: int(saved.get(v, settings.sink_workers)) for v in settings.views}


def _read(path: Path) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def _write(path: Path, counts: dict[str, int]) -> None:
    # Written aside and renamed over: the scaler and `wait_scaled` read these files while they change, and must see
    # the old counts or the new ones, never an empty or half-written file.
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(counts, indent=2, sort_keys=True) + "\n")
    os.replace(staged, path)
