"""What supervisord says happened to the processes it supervises, read from its own log (Layout.supervisord_log).

A fault test kills or stops some programs on purpose. Any other process that exits meanwhile (a sink worker dying of
SIGSEGV, a service giving up while an engine is away) is a failure of its own, which supervisord's automatic restart
would otherwise hide: the service answers again a few seconds later and the test passes. ``ExitWatch`` reads the
lines supervisord appends during a test and names every exit the test did not cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# "2026-12-07 04:55:38,036 WARN exited: sink-inventory-1 (terminated by SIGSEGV (core dumped); not expected)"
# "... INFO gave up: postgres entered FATAL state, too many start retries too quickly"
# (supervisor/process.py). "stopped:" lines are not matched: they are ends a stop request asked for.
_EXIT_LINE = re.compile(
    r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) [A-Z]+ (?P<event>exited|gave up): (?P<process>\S+) (?P<detail>.*)$"
)


@dataclass(frozen=True)
class Exit:
    """A process's end that no stop request asked for, as supervisord logged it."""

    at: str
    event: str  # "exited" (supervisord restarts it) or "gave up" (it entered FATAL and stays down)
    process: str  # supervisord's process name: "postgres", "kafka-0", "sink-inventory-1"
    detail: str  # "(terminated by SIGSEGV; not expected)", "(exit status 0; expected)", ...

    def __str__(self) -> str:
        return f"{self.at} {self.event}: {self.process} {self.detail}"


def parse_exits(text: str) -> list[Exit]:
    """Every "exited:" and "gave up:" line of supervisord's log text, in order. An exit counts whether supervisord
    calls it expected or not: that only says whether the exit code was 0, and no program of the stack is meant to end
    by itself, so either way it was restarted."""
    return [Exit(**m.groupdict()) for line in text.splitlines() if (m := _EXIT_LINE.match(line))]


def stands_for(name: str, process: str) -> bool:
    """Whether ``name``, as stack.supervisor.Supervisor takes names (a program; a group, whose processes supervisord
    names "<group>-<i>"; or "group:process"), covers the process that supervisord's log names ``process``."""
    if ":" in name:
        return process == name.split(":", 1)[1]
    return process == name or re.fullmatch(rf"{re.escape(name)}-\d+", process) is not None


def unexpected(exits: Iterable[Exit], caused: Iterable[str]) -> list[Exit]:
    """The exits that none of the names in ``caused`` (what the test killed, stopped or restarted) stands for, and
    every "gave up": a program the test killed must come back, not stay down."""
    names = list(caused)
    return [e for e in exits if e.event == "gave up" or not any(stands_for(n, e.process) for n in names)]


class LogTail:
    """What is appended to a log from the moment this is made, across supervisord's rotations: it renames the full
    file to ``<name>.1`` (and older ones to ``.2``, ...), so the file being read keeps its inode under another name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            stat = path.stat()
        except FileNotFoundError:  # no log yet: all of the first one is new
            self._inode, self._offset = None, 0
        else:
            self._inode, self._offset = stat.st_ino, stat.st_size

    def _files(self) -> list[Path]:
        """The log and its rotated copies, oldest first."""
        rotated = [p for p in self.path.parent.glob(f"{self.path.name}.*") if p.suffix[1:].isdigit()]
        return [*sorted(rotated, key=lambda p: int(p.suffix[1:]), reverse=True), self.path]

    def read(self) -> str:
        """Everything appended since this tail was made."""
        files = [p for p in self._files() if p.exists()]
        inodes = [p.stat().st_ino for p in files]
        offset = 0
        if self._inode in inodes:  # else the file we started in is gone (or there was none): every file is newer
            start = inodes.index(self._inode)
            files, offset = files[start:], self._offset
        parts = []
        for path in files:
            with path.open("rb") as f:
                f.seek(offset)
                parts.append(f.read().decode(errors="replace"))
            offset = 0
        return "".join(parts)


class ExitWatch:
    """The supervised processes' exits from its creation on; the test names what it kills or stops itself."""

    def __init__(self, log: Path) -> None:
        self._tail = LogTail(log)
        self._caused: list[str] = []

    def expect(self, *names: str) -> None:
        """Exits of these are the test's own doing: programs, groups or "group:process", as Supervisor takes them."""
        self._caused += names

    def exits(self) -> list[Exit]:
        return parse_exits(self._tail.read())

    def unexpected(self) -> list[Exit]:
        return unexpected(self.exits(), self._caused)

    def check(self) -> None:
        """Fails naming every exit the test did not cause."""
        found = self.unexpected()
        if found:
            caused = ", ".join(self._caused) or "nothing"
            raise AssertionError(
                f"supervised processes exited that the test did not kill or stop (it caused: {caused}); see their "
                f"logs and {self._tail.path}:\n" + "\n".join(f"  {e}" for e in found)
            )
