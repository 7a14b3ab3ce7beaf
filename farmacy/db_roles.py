"""Who logs in to the master, each as its own PostgreSQL role (least privilege).

- the owner (the tools' ``FARMACY_PG_USER``): migrations, the stack's setup, tests and benchmarks; owns the schemas.
- ``farmacy_command``, the command API: reads and writes the write model; only appends to the ledger; no DDL.
- ``farmacy_reader``, the sink workers, the reconciler, the watchdog and the query API: reads the write model.
- ``farmacy_ops``, the ops API: reads; requests snapshots (signal rows); keeps alert notifications.
- ``farmacy_capture``, Debezium: replication; reads the published tables; writes the heartbeat and signal rows.

The privileges are granted by migration 0004 (which creates a role missing at that time without a login). The
local stack creates the roles with their logins and passwords before migrating (``stack/postgres.py``); on
Kubernetes the database operator declares them (``managed.roles`` of the CloudNativePG cluster). Each service
logs in with its own role's ``FARMACY_PG_USER`` / ``FARMACY_PG_PASSWORD``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DbRole(StrEnum):
    COMMAND = "command"
    READER = "reader"
    OPS = "ops"
    CAPTURE = "capture"


@dataclass(frozen=True)
class RoleSpec:
    name: str
    replication: bool = False
    # Predefined roles it belongs to (granted by whoever creates it: it takes an administrator).
    member_of: tuple[str, ...] = ()


ROLES: dict[DbRole, RoleSpec] = {
    DbRole.COMMAND: RoleSpec("farmacy_command"),
    DbRole.READER: RoleSpec("farmacy_reader"),
    # pg_monitor: the engine metrics read every session's statistics (pg_stat_replication, pg_stat_activity).
    DbRole.OPS: RoleSpec("farmacy_ops", member_of=("pg_monitor",)),
    DbRole.CAPTURE: RoleSpec("farmacy_capture", replication=True),
}

# The local stack's programs and the role each logs in as (programs not listed log in as nobody: they do not
# connect to the master). The sink workers' programs are "sink-<view>".
PROGRAM_ROLES: dict[str, DbRole] = {
    "command-api": DbRole.COMMAND,
    "query-api": DbRole.READER,
    "ops-api": DbRole.OPS,
    "watchdog": DbRole.READER,
    "reconciler": DbRole.READER,
    "sink": DbRole.READER,
}


def program_role(program: str) -> DbRole | None:
    return PROGRAM_ROLES.get("sink" if program.startswith("sink-") else program)
