"""Resident memory of each component of the running local stack (process and its children).

.venv/bin/python -m benchmarks.memory_at_rest   (the stack of FARMACY_STACK_DIR, like every command)
"""

from __future__ import annotations

from pathlib import Path

from farmacy.settings import Settings
from stack.lifecycle import layout_for
from stack.supervisor import Supervisor


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        for child in map(int, children):
            found += [child, *_children(child)]
    return found


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    settings = Settings()
    sup = Supervisor(layout_for(settings))
    if not sup.running():
        raise SystemExit(f"stack {settings.stack_name} is not running (no supervisord under {settings.stack_dir})")
    print(f"stack {settings.stack_name} ({settings.stack_dir})")
    total = 0
    for info in sup.all_info():
        if not info["pid"]:
            print(f"{info['name']:16s} not running")
            continue
        pids = [info["pid"], *_children(info["pid"])]
        rss = sum(_rss_kib(p) for p in pids)
        total += rss
        print(f"{info['name']:16s} {rss / 1024:8.0f} MiB  ({len(pids)} process(es))")
    print(f"{'total':16s} {total / 1024:8.0f} MiB")


if __name__ == "__main__":
    main()
