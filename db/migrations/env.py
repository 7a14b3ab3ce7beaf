"""Alembic environment: migrations are plain SQL (op.execute); the database URL comes from Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from farmacy.settings import Settings

url = context.config.attributes.get("sqlalchemy_url") or Settings().sqlalchemy_url


def run_migrations_online() -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
