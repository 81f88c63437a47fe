"""Seed the random key that authenticates the gallery index file (used when no template key is set).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.get_bind().execute(
        sa.text("INSERT INTO meta (key, value) SELECT 'gallery_index_key', :key WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'gallery_index_key')"),
        {"key": Fernet.generate_key().decode()},
    )


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'gallery_index_key'")
