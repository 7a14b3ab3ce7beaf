"""The `farmacy` command: run the local stack, inspect it, mint tokens, run the tests."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import alerts, connectors, dlq, lifecycle, provisioning, rollout, tokens, views
from cli.common import PLAIN, PROFILE_HELP, use_profile
from farmacy.settings import Profile

app = typer.Typer(
    help="Farmacy Food CQRS platform: local stack, operations and tools.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=PLAIN,
)
app.add_typer(connectors.app, name="connectors")
app.add_typer(dlq.app, name="dlq")


@app.callback()
def choose_profile(profile: Annotated[Profile | None, typer.Option(help=PROFILE_HELP)] = None) -> None:
    use_profile(profile)


# In the order `farmacy --help` lists them.
for group in (lifecycle, tokens, provisioning, views, rollout, alerts):
    group.register(app)


def main() -> None:
    app()
