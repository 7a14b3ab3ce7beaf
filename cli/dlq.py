"""`farmacy dlq`: the sink workers' dead letters: list, re-drive, discard."""

from __future__ import annotations

import typer

from cli.common import settings

app = typer.Typer(help="Dead-lettered events of the sink workers.", no_args_is_help=True)


@app.command("list")
def dlq_list(view: str, limit: int = 50) -> None:
    """Show a view's dead letters: where each came from and why it failed."""
    from ops.dead_letters import list_dead_letters

    letters = list_dead_letters(settings(), view, limit)
    for d in letters:
        h = d.headers
        print(
            f"#{d.partition}:{d.offset} {h.get('dlq.failed_at', '?')} {h.get('dlq.topic')}[{h.get('dlq.partition')}]@"
            f"{h.get('dlq.offset')} {h.get('dlq.error.class')}: {h.get('dlq.error', '')[:200]}"
        )
    print(f"{len(letters)} dead letter(s) shown")


@app.command("redrive")
def dlq_redrive(view: str) -> None:
    """Send a view's dead letters back to its worker (after fixing the cause); applied, each releases its hold."""
    from ops.dead_letters import redrive

    print(f"re-drove {redrive(settings(), view)} event(s) to {view}'s worker")


@app.command("discard")
def dlq_discard(view: str) -> None:
    """Resolve a view's dead letters without applying them (nothing to do, or repaired by reconcile --repair):
    releases the holds they put on the view's published position."""
    from ops.dead_letters import discard

    print(f"discarded {discard(settings(), view)} dead letter(s) of {view}")
