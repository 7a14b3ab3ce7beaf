"""`python -m stack.scale_apply '{"view": count}'`: renders the counts into supervisord's configuration and has
supervisord run them (stack.lifecycle.scale_workers). Run by the stack's scaler (stack/scaler.py) as a child process,
so the scaler itself stays small."""

from __future__ import annotations

import json
import sys

from farmacy.settings import Settings
from stack.lifecycle import scale_workers


def main(argv: list[str]) -> int:
    settings = Settings()
    for view, count in json.loads(argv[0]).items():
        scale_workers(settings, view, int(count))
        print(f"scaler: {view} runs {count} worker(s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
