"""Applies the schema migrations in db/migrations with Alembic."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from farmacy.settings import ROOT, Settings


def alembic_config(settings: Settings) -> Config:
    cfg = Config(str(ROOT / "db" / "alembic.ini"))
    cfg.attributes["sqlalchemy_url"] = settings.sqlalchemy_url
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)
