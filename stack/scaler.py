"""`python -m stack.scaler ...`: the local stack's counterpart of Kubernetes' KEDA for the sink workers' count.

`farmacy scale VIEW N` (ops/control.py) only records the count in the view's sync document, wherever the stack runs;
on Kubernetes KEDA follows it. The local stack has no autoscaler, so this supervised program follows it here: every
``INTERVAL_S`` it reads the count each view was asked for (one _mget for every view) and, when it differs from the
count rendered into supervisord's configuration, renders it and has supervisord run that many workers of the view
(stack.lifecycle.scale_workers). A view without a recorded count keeps the count it has. Only the local stack runs
it: compose has its own `docker compose up --scale`.

It waits with the standard library alone and its arguments rendered by stack/render.py (``command``), so it stays a
small process at rest; a count is applied by a child process (stack/scale_apply.py) that loads the stack's tooling
and ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INTERVAL_S = 5.0
CONTROL, WORKERS = "control", "workers"  # sinks/control.py: the sync document's control field and its count


@dataclass(frozen=True)
class Follows:
    counts_file: Path  # stack/scale.py's record of the counts supervisord runs
    default: int  # settings.sink_workers: the count of a view the file does not name
    sync_urls: list[str]  # the sync index on each Elasticsearch node
    views: list[str]

    def argv(self) -> list[str]:
        return [str(self.counts_file), str(self.default), ",".join(self.sync_urls), ",".join(self.views)]

    @classmethod
    def parse(cls, argv: list[str]) -> Follows:
        counts_file, default, urls, views = argv
        return cls(Path(counts_file), int(default), urls.split(","), views.split(","))


def command(follows: Follows) -> list[str]:
    """The supervised program's command line."""
    return [sys.executable, "-m", "stack.scaler", *follows.argv()]


def recorded_counts(follows: Follows) -> dict[str, int] | None:
    """The worker count recorded for each view that has one; None when Elasticsearch did not answer."""
    body = json.dumps({"ids": follows.views}).encode()
    for url in follows.sync_urls:
        if not url.startswith(("http://", "https://")):
            continue
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            f"{url}/_mget?_source_includes={CONTROL}.{WORKERS}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - http(s) only, checked above
                docs: list[dict[str, Any]] = json.load(answer)["docs"]
        except (OSError, ValueError, KeyError):
            continue
        return {
            d["_id"]: int(d["_source"][CONTROL][WORKERS])
            for d in docs
            if d.get("found") and (d["_source"].get(CONTROL) or {}).get(WORKERS) is not None
        }
    return None


def changes(follows: Follows, recorded: dict[str, int]) -> dict[str, int]:
    """The views whose recorded count differs from the count supervisord runs (stack/scale.py's file)."""
    running = json.loads(follows.counts_file.read_text()) if follows.counts_file.exists() else {}
    return {v: n for v, n in recorded.items() if v in follows.views and int(running.get(v, follows.default)) != n}


def main(argv: list[str]) -> int:
    follows = Follows.parse(argv)
    while True:
        recorded = recorded_counts(follows)
        changed = changes(follows, recorded) if recorded else {}
        if changed:  # a failure is tried again at the next interval; the stack keeps running what it runs
            subprocess.run([sys.executable, "-m", "stack.scale_apply", json.dumps(changed)], check=False)
        time.sleep(INTERVAL_S)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
