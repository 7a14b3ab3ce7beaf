"""Capture: a stock row's updates carry its old row (REPLICA IDENTITY FULL on inventory.stock).

The catalog view reads of a stock row only its level ("available" or "low"; sinks/views/catalog), so a sink that sees
the old and the new row of an update can tell that 12 units to 11 changes no catalog document and skip it, instead of
rebuilding and rewriting the meal's whole document for every sale and delivery. The old row is six small columns:
the WAL and the change events grow by about a hundred bytes per update. Every other captured table keeps the default
identity (its primary key), which is all its views need.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE inventory.stock REPLICA IDENTITY FULL")


def downgrade() -> None:
    op.execute("ALTER TABLE inventory.stock REPLICA IDENTITY DEFAULT")
