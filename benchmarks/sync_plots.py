"""PNG plots of a benchmarks.sync_rate result: latency percentiles vs rate per view, consumer lag over time.

python -m benchmarks.sync_plots docs/bench/sync_rate_before.json     # re-draws the plots of a saved result
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the non-interactive backend

NEVER_MS = 200_000.0  # where "never visible" is drawn (above the drain wait)


def _finite(value: Any) -> float:
    """A latency to draw: "never" (inf, or "inf" in the JSON) at NEVER_MS, nothing for no samples."""
    if value == "inf" or (isinstance(value, float) and math.isinf(value)):
        return NEVER_MS
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def _never_line(ax: Any) -> None:
    ax.axhline(NEVER_MS, color="red", linewidth=0.6, linestyle="--")
    ax.text(0.01, NEVER_MS, "never", color="red", fontsize=7, transform=ax.get_yaxis_transform(), va="bottom")


def plot_latency(result: dict[str, Any], path: Path) -> None:
    runs = result["runs"]
    views = result["views"]
    fig, axes = plt.subplots(1, len(views) + 1, figsize=(5 * (len(views) + 1), 4), squeeze=False)
    rates = [r["rate"] for r in runs]
    for ax, view in zip(axes[0], views, strict=False):
        for metric, style in (("doc", "-o"), ("token", "--s")):
            for p in ("p50", "p99"):
                ys = [_finite(r["views"][view][metric][p]) for r in runs]
                ax.plot(rates, ys, style, label=f"{metric} {p}", alpha=1.0 if p == "p99" else 0.6)
        ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
        ax.axhline(1500, color="grey", linewidth=0.8, linestyle="-.")
        _never_line(ax)
        ax.set_title(f"{view}: commit -> visible via query API")
        _axes(ax, "stock changes/s offered", "ms (log)")
    ax = axes[0][-1]
    ys50 = [_finite(r["renames"]["doc"]["p50"]) for r in runs]
    ys99 = [_finite(r["renames"]["doc"]["p99"]) for r in runs]
    ax.plot(rates, ys50, "-o", label="rename p50", alpha=0.6)
    ax.plot(rates, ys99, "-o", label="rename p99")
    ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
    _never_line(ax)
    ax.set_title("catalog: meal rename -> name visible")
    _axes(ax, "stock changes/s offered", "ms (log)")
    fig.suptitle(f"benchmarks.sync_rate {result.get('label', '')} ({result['started_at']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _axes(ax: Any, xlabel: str, ylabel: str) -> None:
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)


def plot_lag(result: dict[str, Any], path: Path) -> None:
    runs = result["runs"]
    lag_views = result["lag_views"]
    fig, axes = plt.subplots(1, len(lag_views), figsize=(4.5 * len(lag_views), 3.8), squeeze=False)
    for ax, view in zip(axes[0], lag_views, strict=False):
        for r in runs:
            ts = [s["t"] for s in r["lag_series"]]
            ys = [s["lag"].get(view, math.nan) for s in r["lag_series"]]
            (line,) = ax.plot(ts, ys, label=f"{r['rate']:g}/s")
            ax.axvline(r["load_s"], color=line.get_color(), linewidth=0.6, linestyle=":")
        ax.set_title(f"{view}: consumer lag (events)")
        ax.set_xlabel("s since the load started (dotted: load stopped)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"benchmarks.sync_rate {result.get('label', '')} ({result['started_at']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    path = Path(sys.argv[1])
    result = json.loads(path.read_text())
    stem = path.with_suffix("")
    if not result.get("idle_token"):
        plot_latency(result, Path(f"{stem}_latency.png"))
    plot_lag(result, Path(f"{stem}_lag.png"))
    print(f"plots beside {path}")


if __name__ == "__main__":
    main()
