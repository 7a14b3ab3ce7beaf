"""Least privilege: the services' roles and what each may do (farmacy/db_roles.py).

- farmacy_command (the command API): reads and writes the write model and its idempotency keys; appends to the
  ledger (inventory.adjustments: SELECT and INSERT only); creates nothing.
- farmacy_reader (sink workers, reconciler, watchdog, query API): reads the write model; writes nothing.
- farmacy_ops (the ops API): reads the write model, requests snapshots (signal rows), keeps alert notifications.
- farmacy_capture (Debezium): reads the published tables, writes the heartbeat and the snapshot signals; its
  REPLICATION attribute is given where the role is created.

A role missing at this point is created without a login (the local stack and the database operator create them
with their logins first). Tables created later by the owner get the same privileges (default privileges), so a
migration that adds a table to a schema needs no grants of its own. No role but the owner may create objects:
the schemas' CREATE is the owner's, and temporary tables are refused to everyone else.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLES = ("farmacy_command", "farmacy_reader", "farmacy_ops", "farmacy_capture")
WRITE_MODEL = "catalog, inventory, ordering, subscription"
PUBLISHED = (
    "catalog.meals, inventory.locations, inventory.stock, ordering.customers, ordering.orders, ordering.order_lines, "
    "subscription.plans, subscription.subscriptions, platform.heartbeat, platform.debezium_signal"
)


def upgrade() -> None:
    for role in ROLES:
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE {role} NOLOGIN; END IF; END $$"
        )
    op.execute(f"""
    DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$;
    REVOKE CREATE ON SCHEMA public FROM PUBLIC;

    GRANT USAGE ON SCHEMA {WRITE_MODEL} TO {", ".join(ROLES)};
    GRANT USAGE ON SCHEMA platform TO farmacy_command, farmacy_ops, farmacy_capture;
    GRANT USAGE ON SCHEMA ops TO farmacy_ops;

    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {WRITE_MODEL} TO farmacy_command;
    REVOKE UPDATE, DELETE, TRUNCATE ON inventory.adjustments FROM farmacy_command;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA {WRITE_MODEL} TO farmacy_command;
    GRANT SELECT, INSERT, UPDATE, DELETE ON platform.idempotency_keys TO farmacy_command;

    GRANT SELECT ON ALL TABLES IN SCHEMA {WRITE_MODEL} TO farmacy_reader, farmacy_ops;

    GRANT SELECT ON platform.heartbeat TO farmacy_ops;
    GRANT SELECT, INSERT ON platform.debezium_signal TO farmacy_ops;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ops TO farmacy_ops;
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO farmacy_ops;

    GRANT SELECT ON {PUBLISHED} TO farmacy_capture;
    GRANT INSERT, UPDATE ON platform.heartbeat TO farmacy_capture;
    GRANT INSERT ON platform.debezium_signal TO farmacy_capture;

    ALTER DEFAULT PRIVILEGES IN SCHEMA {WRITE_MODEL} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO farmacy_command;
    ALTER DEFAULT PRIVILEGES IN SCHEMA {WRITE_MODEL} GRANT USAGE ON SEQUENCES TO farmacy_command;
    ALTER DEFAULT PRIVILEGES IN SCHEMA {WRITE_MODEL} GRANT SELECT ON TABLES TO farmacy_reader, farmacy_ops, farmacy_capture;
    ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO farmacy_ops;
    ALTER DEFAULT PRIVILEGES IN SCHEMA ops GRANT USAGE ON SEQUENCES TO farmacy_ops;
    """)


def downgrade() -> None:
    roles = ", ".join(ROLES)
    op.execute(f"""
    ALTER DEFAULT PRIVILEGES IN SCHEMA ops REVOKE ALL ON SEQUENCES FROM farmacy_ops;
    ALTER DEFAULT PRIVILEGES IN SCHEMA ops REVOKE ALL ON TABLES FROM farmacy_ops;
    ALTER DEFAULT PRIVILEGES IN SCHEMA {WRITE_MODEL} REVOKE ALL ON TABLES FROM {roles};
    ALTER DEFAULT PRIVILEGES IN SCHEMA {WRITE_MODEL} REVOKE ALL ON SEQUENCES FROM farmacy_command;
    REVOKE ALL ON ALL TABLES IN SCHEMA {WRITE_MODEL}, platform, ops FROM {roles};
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA {WRITE_MODEL}, ops FROM {roles};
    REVOKE USAGE ON SCHEMA {WRITE_MODEL}, platform, ops FROM {roles};
    DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$;
    """)
