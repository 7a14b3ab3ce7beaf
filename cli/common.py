"""What every command of the CLI shares: the settings, the profile option, and the conventions of its commands.

- A value outside its choices (a role, a view, a table) is a usage error: one `Error: ...` line naming what is
  valid, after Click's usage lines, and exit code 2, never a traceback. Errors and help are Click's plain text
  (`PLAIN`: no Rich panels, so the error stays on one line whatever the terminal's width).
- A command that destroys something asks first; `--yes` answers for a script. Without a terminal and without
  `--yes`, it aborts (exit 1) and does nothing.
- A read command that prints a table takes `--json`: the same data as one JSON document on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date, datetime
from typing import Any

import typer

from farmacy.settings import Profile, Settings
from farmacy.views import VIEW_NAMES

# Typer's rich_markup_mode for every Typer of the CLI: Click's plain help and one-line errors.
PLAIN = None


def settings() -> Settings:
    return Settings()


PROFILE_HELP = (
    "single: one node of each engine; cluster: 3 Kafka brokers, 2 Kafka Connect workers, 2 Elasticsearch nodes "
    "(and a tiebreaker), in .stack-cluster (docs/deploy.md). Also FARMACY_PROFILE."
)


def use_profile(profile: Profile | None) -> None:
    """Every later Settings() of this command, and the processes it starts (supervisord passes its environment
    on), see the profile."""
    if profile is not None:
        os.environ["FARMACY_PROFILE"] = profile.value


def check_view(view: str) -> str:
    """A view of this stack (Settings.views, by default every view of farmacy/views.py), else a usage error."""
    views = settings().views
    if view not in views:
        raise typer.BadParameter(f"{view!r} is not a view; the views are {', '.join(views)}")
    return view


def check_views(views: list[str] | None) -> list[str] | None:
    for view in views or []:
        check_view(view)
    return views


def view_argument(text: str) -> Any:
    """A VIEW argument, checked against the stack's views before the command runs."""
    return typer.Argument(help=f"{text} ({', '.join(VIEW_NAMES)})", metavar="VIEW", callback=check_view)


def yes_option() -> Any:
    return typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts)")


def json_option() -> Any:
    return typer.Option("--json", help="Print the data as one JSON document instead of a table")


def confirm(question: str, yes: bool) -> None:
    """Asks before a destructive action unless --yes; a no (or no terminal to answer on) aborts with exit 1."""
    if not yes:
        typer.confirm(question, abort=True)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def print_json(data: Any) -> None:
    """One JSON document on stdout: datetimes in ISO 8601, bytes as UTF-8 text, dataclasses as objects."""
    print(json.dumps(data, indent=2, default=_plain))
