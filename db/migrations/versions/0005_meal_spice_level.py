"""Catalog: a meal's spice level (0 mild to 5 fiery; NULL: not rated), the expand step of a view change.

Nullable, without a default: adding it rewrites no row and takes its lock for an instant, so writes and capture go on
(the publication lists tables, not columns, so the connector streams the new column from the next change on, without
a restart). The command API accepts it once this has run; the catalog view shows it from mapping version 3 on
(`farmacy rollout catalog`, docs/changing-a-view.md).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE catalog.meals ADD COLUMN IF NOT EXISTS spice_level smallint "
        "CONSTRAINT meals_spice_level_check CHECK (spice_level BETWEEN 0 AND 5)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE catalog.meals DROP COLUMN IF EXISTS spice_level")
