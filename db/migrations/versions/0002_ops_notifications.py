"""Operations: the alert notifications Alertmanager delivered to the ops API's receiver, kept durably.

One row per alert per notification (a firing, then its resolution), with the labels and annotations as
Alertmanager sent them. Not captured: no view reads it.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE SCHEMA ops;

    CREATE TABLE ops.notifications (
        id           bigserial PRIMARY KEY,
        received_at  timestamptz NOT NULL DEFAULT now(),
        receiver     text NOT NULL,
        group_key    text NOT NULL,
        status       text NOT NULL CHECK (status IN ('firing', 'resolved')),
        alertname    text NOT NULL,
        severity     text,
        fingerprint  text NOT NULL,
        starts_at    timestamptz,
        ends_at      timestamptz,
        labels       jsonb NOT NULL,
        annotations  jsonb NOT NULL
    );
    CREATE INDEX notifications_received_at ON ops.notifications (received_at DESC);
    CREATE INDEX notifications_alert ON ops.notifications (alertname, received_at DESC);
    """)


def downgrade() -> None:
    op.execute("""
    DROP SCHEMA ops CASCADE;
    """)
