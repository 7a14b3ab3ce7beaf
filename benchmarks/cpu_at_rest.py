"""CPU of each component of the running local stack while nothing uses it (the idle cost of the sync path).

Samples every supervised program's process tree and the whole machine with psutil over ``--seconds``, ``--repeats``
times, and prints cores per component (the sink workers together as "sinks"), median and range.

    .venv/bin/python -m benchmarks.cpu_at_rest --seconds 20 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from benchmarks.sync_watch import MACHINE, by_component, cpu_snapshot, stack_processes
from farmacy.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    procs = stack_processes(Settings())
    cores: dict[str, list[float]] = defaultdict(list)
    for i in range(args.repeats):
        before = by_component(cpu_snapshot(procs))
        time.sleep(args.seconds)
        after = by_component(cpu_snapshot(procs))
        sample = {k: (after[k] - before.get(k, 0.0)) / args.seconds for k in after}
        for k, v in sample.items():
            cores[k].append(v)
        print(f"sample {i + 1}: machine {sample[MACHINE]:.3f} cores, sink workers {sample['sinks']:.3f}", flush=True)
    print("\n| component | cores, median (min-max) |\n| --- | --- |")
    for k, values in sorted(cores.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"| {k} | {statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f}) |")


if __name__ == "__main__":
    main()
