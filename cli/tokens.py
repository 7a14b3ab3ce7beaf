"""Bearer tokens for local use."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from cli.common import settings


def token(
    role: Annotated[str, typer.Option(help="customer, admin or operator")] = "admin",
    subject: Annotated[str, typer.Option(help="Token subject (user name)")] = "local-admin",
    customer_id: Annotated[str | None, typer.Option(help="Customer id (required for role customer)")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds")] = 3600,
) -> None:
    """Mint a bearer token for local use, signed with FARMACY_JWT_SECRET."""
    from farmacy.auth import Role, mint

    current = settings()
    print(
        mint(
            current.jwt_secret.get_secret_value(), subject, Role(role), UUID(customer_id) if customer_id else None, ttl
        )
    )


def register(app: typer.Typer) -> None:
    app.command()(token)
