"""PostgreSQL cluster of the local stack: created once with initdb, configured for logical decoding."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from farmacy.db_roles import ROLES
from farmacy.settings import Settings
from stack.layout import Layout
from stack.progress import step
from stack.system import chown_tree


def as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def init_cluster(settings: Settings, layout: Layout, pg_bindir: Path, user: str | None) -> None:
    data = layout.data / "postgres"
    if (data / "PG_VERSION").exists():
        return
    with step(f"initdb {data}"):
        data.mkdir(parents=True, exist_ok=True)
        data.chmod(0o700)
        chown_tree(data, user)
        with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as pw:
            pw.write(settings.pg_password.get_secret_value())
        pwfile = Path(pw.name)
        chown_tree(pwfile, user)
        try:
            subprocess.run(
                as_user(
                    [
                        str(pg_bindir / "initdb"),
                        "-D",
                        str(data),
                        "-U",
                        settings.pg_user,
                        f"--pwfile={pwfile}",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ],
                    user,
                ),
                check=True,
                stdout=subprocess.DEVNULL,
            )
        finally:
            pwfile.unlink()
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(f"\ninclude '{layout.conf / 'postgresql.conf'}'\n")


def ping(settings: Settings, dbname: str = "postgres") -> str:
    """Returns the server's wal_level; raises when the server does not answer."""
    with psycopg.connect(make_conninfo(settings.pg_dsn, dbname=dbname), connect_timeout=3) as conn:
        row = conn.execute("SHOW wal_level").fetchone()
        return str(row[0]) if row else ""


def ensure_database(settings: Settings, name: str | None = None) -> None:
    """Creates the database ``name`` (by default the stack's own) when it does not exist."""
    name = name or settings.pg_database
    with psycopg.connect(make_conninfo(settings.pg_dsn, dbname="postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def ensure_roles(settings: Settings) -> None:
    """Creates (or brings up to date) the services' roles with their logins and passwords (farmacy/db_roles.py),
    as the stack's owner, an administrator here. Their privileges come with the migrations."""
    with psycopg.connect(settings.pg_dsn, autocommit=True) as conn:
        for role, spec in ROLES.items():
            name, password = settings.pg_role_login(role)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
            attributes = sql.SQL("LOGIN {} PASSWORD {}").format(
                sql.SQL("REPLICATION" if spec.replication else "NOREPLICATION"), sql.Literal(password)
            )
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            conn.execute(sql.SQL("{} {} WITH {}").format(verb, sql.Identifier(name), attributes))
            for parent in spec.member_of:
                conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(parent), sql.Identifier(name)))
