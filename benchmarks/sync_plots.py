"""PNG plots of a benchmarks.sync_rate result: latency percentiles vs rate per view, consumer lag over time."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the non-interactive backend


def _finite(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


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
        ax.set_title(f"{view}: commit -> visible via query API")
        _axes(ax, "stock changes/s offered", "ms (log)")
    ax = axes[0][-1]
    ys50 = [_finite(r["renames"]["doc"]["p50"]) for r in runs]
    ys99 = [_finite(r["renames"]["doc"]["p99"]) for r in runs]
    ax.plot(rates, ys50, "-o", label="rename p50", alpha=0.6)
    ax.plot(rates, ys99, "-o", label="rename p99")
    ax.axhline(1000, color="grey", linewidth=0.8, linestyle=":")
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
