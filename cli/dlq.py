"""`farmacy dlq`: the sink workers' dead letters: list, re-drive, discard."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import PLAIN, confirm, json_option, print_json, settings, view_argument, yes_option

app = typer.Typer(help="Dead-lettered events of the sink workers.", no_args_is_help=True, rich_markup_mode=PLAIN)


@app.command("list")
def dlq_list(
    view: Annotated[str, view_argument("The view whose dead letters to show")],
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest to show")] = 50,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Show a view's dead letters: where each came from and why it failed."""
    from ops.dead_letters import list_dead_letters

    letters = list_dead_letters(settings(), view, limit)
    if json_output:
        print_json(letters)
        return
    for d in letters:
        h = d.headers
        print(
            f"#{d.partition}:{d.offset} {h.get('dlq.failed_at', '?')} {h.get('dlq.topic')}[{h.get('dlq.partition')}]@"
            f"{h.get('dlq.offset')} {h.get('dlq.error.class')}: {h.get('dlq.error', '')[:200]}"
        )
    print(f"{len(letters)} dead letter(s) shown")


@app.command("redrive")
def dlq_redrive(view: Annotated[str, view_argument("The view whose dead letters to re-drive")]) -> None:
    """Send a view's dead letters back to its worker (after fixing the cause); applied, each releases its hold."""
    from ops.dead_letters import redrive

    print(f"re-drove {redrive(settings(), view)} event(s) to {view}'s worker")


@app.command("discard")
def dlq_discard(
    view: Annotated[str, view_argument("The view whose dead letters to discard")],
    yes: Annotated[bool, yes_option()] = False,
) -> None:
    """Resolve a view's dead letters without applying them (nothing to do, or repaired by reconcile --repair):
    releases the holds they put on the view's published position. Asks first, unless --yes."""
    confirm(f"Discard every unresolved dead letter of {view} without applying it?", yes)
    from ops.dead_letters import discard

    print(f"discarded {discard(settings(), view)} dead letter(s) of {view}")
