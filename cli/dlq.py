"""`farmacy dlq`: the sink workers' dead letters: list (current or resolved), re-drive, discard (all of a view's
current ones, or one letter with --at)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from cli.common import PLAIN, confirm, json_option, print_json, settings, view_argument, yes_option

app = typer.Typer(help="Dead-lettered events of the sink workers.", no_args_is_help=True, rich_markup_mode=PLAIN)


def _check_at(values: list[str] | None) -> list[str] | None:
    for at in values or []:
        partition, _, offset = at.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{at!r}: give PARTITION:OFFSET of a dead letter, as `dlq list` shows it (#0:5)")
    return values


def at_option() -> Any:
    return typer.Option(
        "--at",
        help="Only the dead letter at PARTITION:OFFSET of the view's dead-letter topic (as `dlq list` shows it; "
        "repeatable)",
        callback=_check_at,
    )


@app.command("list")
def dlq_list(
    view: Annotated[str, view_argument("The view whose dead letters to show")],
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest to show")] = 50,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Show a view's dead letters: where each came from, why it failed, and whether it is current (its change still
    holds the view) or resolved (applied after a re-drive or replay, discarded, or dead-lettered again)."""
    from ops.dead_letters import letter_states

    states = letter_states(settings(), view, limit)
    if json_output:
        print_json([{**dataclasses.asdict(s.letter), "current": s.current} for s in states])
        return
    for s in states:
        d, h = s.letter, s.letter.headers
        print(
            f"#{d.partition}:{d.offset} {'current ' if s.current else 'resolved'} {h.get('dlq.failed_at', '?')} "
            f"{h.get('dlq.topic')}[{h.get('dlq.partition')}]@{h.get('dlq.offset')} {h.get('dlq.error.class')}: "
            f"{h.get('dlq.error', '')[:200]}"
        )
    current = sum(s.current for s in states)
    print(f"{len(states)} dead letter(s) shown, {current} current")


def _one_by_one(view: str, at: list[str], discard: bool) -> None:
    from ops.dead_letters import UnknownDeadLetter, resolve_one

    for spec in at:
        partition, offset = (int(n) for n in spec.split(":"))
        try:
            letter = resolve_one(settings(), view, partition, offset, discard=discard)
        except UnknownDeadLetter as exc:
            raise typer.BadParameter(str(exc), param_hint="'--at'") from None
        print(f"{'discarded' if discard else 're-drove'} dead letter #{spec} ({letter.origin}) of {view}")


@app.command("redrive")
def dlq_redrive(
    view: Annotated[str, view_argument("The view whose dead letters to re-drive")],
    at: Annotated[list[str] | None, at_option()] = None,
) -> None:
    """Send a view's dead letters back to its worker (after fixing the cause); applied, each releases its hold."""
    if at:
        _one_by_one(view, at, discard=False)
        return
    from ops.dead_letters import redrive

    print(f"re-drove {redrive(settings(), view)} event(s) to {view}'s worker")


@app.command("discard")
def dlq_discard(
    view: Annotated[str, view_argument("The view whose dead letters to discard")],
    at: Annotated[list[str] | None, at_option()] = None,
    yes: Annotated[bool, yes_option()] = False,
) -> None:
    """Resolve a view's dead letters without applying them (nothing to do, or repaired by reconcile --repair):
    releases the holds they put on the view's published position. Asks first, unless --yes."""
    if at:
        confirm(f"Discard dead letter(s) {', '.join('#' + a for a in at)} of {view} without applying them?", yes)
        _one_by_one(view, at, discard=True)
        return
    confirm(f"Discard every unresolved dead letter of {view} without applying it?", yes)
    from ops.dead_letters import discard

    print(f"discarded {discard(settings(), view)} dead letter(s) of {view}")
