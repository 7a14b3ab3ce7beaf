"""How many sink workers each view runs in the local stack: ``settings.sink_workers``, unless `farmacy scale VIEW N`
set another count for the view, kept in the stack directory (``conf/sink-workers.json``) so restarts keep it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from farmacy.settings import Settings
from stack.layout import Layout


def counts_file(layout: Layout) -> Path:
    return layout.conf / "sink-workers.json"


def workers(settings: Settings, layout: Layout) -> dict[str, int]:
    """Workers per view of this stack."""
    path = counts_file(layout)
    saved: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    return {v: int(saved.get(v, settings.sink_workers)) for v in settings.views}


def save(settings: Settings, layout: Layout, view: str, count: int) -> None:
    settings.check_worker_count(view, count)
    path = counts_file(layout)
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved[view] = count
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed over: the scaler and `wait_scaled` read the file while it changes, and must see the
    # old counts or the new ones, never an empty or half-written file.
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    os.replace(staged, path)
