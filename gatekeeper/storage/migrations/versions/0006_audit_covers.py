"""Keyed audit chain: admin rows name the rows they applied to (``covers``), so clearing a person
without an ``anonymised`` record that covers it is detected; the keying marker records up to
which row the chain was hashed without a key.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("covers", sa.JSON(), nullable=True))
    # Rows so far were hashed without a key; the first keyed write seals this marker.
    op.execute(
        "INSERT INTO meta (key, value) SELECT 'audit_legacy_through', CAST(COALESCE(MAX(event_id), 0) AS VARCHAR(20)) FROM audit_events "
        "WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'audit_legacy_through')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'audit_legacy_through'")
    op.drop_column("audit_events", "covers")
