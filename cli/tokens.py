"""Bearer tokens for local use, from the local identity provider; and its signing keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from cli.common import settings
from farmacy.auth import Role

keys_app = typer.Typer(help="The local identity provider's signing keys", no_args_is_help=True)


def token(
    role: Annotated[Role, typer.Option(help="Whose token")] = Role.ADMIN,
    subject: Annotated[str, typer.Option(help="Token subject (user name)")] = "local-admin",
    customer_id: Annotated[UUID | None, typer.Option(help="Customer id (required for role customer)")] = None,
    hs256: Annotated[
        bool, typer.Option(help="Mint a development HS256 token instead (APIs accept it only with FARMACY_AUTH_HS256)")
    ] = False,
    ttl: Annotated[
        int, typer.Option(min=1, help="Lifetime in seconds (--hs256; the provider's tokens live 1 h)")
    ] = 3600,
) -> None:
    """An access token of the local identity provider (Ory Hydra) for ROLE, printed on stdout."""
    if role is Role.CUSTOMER and customer_id is None:
        raise typer.BadParameter("a customer's token needs --customer-id", param_hint="'--customer-id'")
    if hs256:
        from farmacy.auth import mint

        print(mint(settings().jwt_secret.get_secret_value(), subject, role, customer_id, ttl))
        return
    from stack.identity import Login, issue_token

    print(issue_token(settings(), Login(role, subject, customer_id)))


@keys_app.command("list")
def keys_list() -> None:
    """The ids of the provider's access-token keys, newest (the one it signs with) first."""
    from stack.identity import signing_keys

    for kid in signing_keys(settings()):
        print(kid)


@keys_app.command("rotate")
def keys_rotate(
    remove_old: Annotated[
        bool, typer.Option(help="Also delete the previous keys: tokens signed with them stop being accepted")
    ] = False,
) -> None:
    """Adds a new signing key (new tokens are signed with it; the APIs fetch it when they first see it)."""
    from stack.identity import add_signing_key, remove_signing_key, signing_keys

    old = signing_keys(settings())
    print(add_signing_key(settings()))
    if remove_old:
        for kid in old:
            remove_signing_key(settings(), kid)


def register(app: typer.Typer) -> None:
    app.command()(token)
    app.add_typer(keys_app, name="keys")
