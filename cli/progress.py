"""Progress displays of the CLI's long operations (rebuild, replay catch-up, snapshot): a bar with the count, the
rate and the time left (rich). On a terminal it redraws in place; otherwise (a pipe, a log) it prints its final state
once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


def rate(task: Task) -> float | None:
    """Items per second: over rich's recent samples, or before there are two, the average since the start (None
    while nothing is done). A worker that commits in large steps gives few samples, hence the fallback."""
    speed = task.finished_speed or task.speed
    if speed is None and task.completed and task.elapsed:
        speed = task.completed / task.elapsed
    return speed


class RateColumn(ProgressColumn):
    """The rate, "- roots/s" while unknown."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        speed = rate(task)
        return Text(f"{speed:,.0f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


class EtaColumn(ProgressColumn):
    """The time left at the current rate, "ETA -:--:--" while unknown."""

    max_refresh = 0.5

    def render(self, task: Task) -> Text:
        speed = rate(task)
        if task.finished:
            left: float | None = 0.0
        elif task.total is None or not speed:
            left = None
        else:
            left = max(0.0, task.total - task.completed) / speed
        if left is None:
            return Text("ETA -:--:--", style="progress.remaining")
        minutes, seconds = divmod(math.ceil(left), 60)
        hours, minutes = divmod(minutes, 60)
        return Text(f"ETA {hours:d}:{minutes:02d}:{seconds:02d}", style="progress.remaining")


def progress_display(
    unit: str, console: Console | None = None, get_time: Callable[[], float] | None = None
) -> Progress:
    """description, bar, done/total, unit, rate, time left ("ETA"), time so far ("elapsed") (``get_time``: the clock,
    for tests)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn(unit),
        RateColumn(unit),
        EtaColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        console=console,
        get_time=get_time,
    )


@contextmanager
def tracked(
    description: str, unit: str, console: Console | None = None, get_time: Callable[[], float] | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing one bar while the block runs (the total may change)."""
    if console is None:
        console = Console()
        if not console.is_terminal:  # a pipe or a log: the final line unwrapped (80 columns would fold it)
            console = Console(width=max(console.width, 120))
    display = progress_display(unit, console, get_time)
    with display:
        task: TaskID = display.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            display.update(task, completed=done, total=max(total, done))

        yield update
