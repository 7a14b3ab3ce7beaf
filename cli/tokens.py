"""Bearer tokens for local use."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from cli.common import settings
from farmacy.auth import Role


def token(
    role: Annotated[Role, typer.Option(help="Whose token")] = Role.ADMIN,
    subject: Annotated[str, typer.Option(help="Token subject (user name)")] = "local-admin",
    customer_id: Annotated[UUID | None, typer.Option(help="Customer id (required for role customer)")] = None,
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds")] = 3600,
) -> None:
    """Mint a bearer token for local use, signed with FARMACY_JWT_SECRET."""
    from farmacy.auth import mint

    if role is Role.CUSTOMER and customer_id is None:
        raise typer.BadParameter("a customer's token needs --customer-id", param_hint="'--customer-id'")
    print(mint(settings().jwt_secret.get_secret_value(), subject, role, customer_id, ttl))


def register(app: typer.Typer) -> None:
    app.command()(token)
