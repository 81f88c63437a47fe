"""Seed the gallery-generation row, so every enrollment can lock it as its first statement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO meta (key, value) SELECT 'gallery_generation', '0' WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'gallery_generation')")


def downgrade() -> None:
    pass  # the row is harmless to older code, which creates it itself
