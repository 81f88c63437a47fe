"""Keep each enrollment photo's aligned face crop, so a new model can re-embed the gallery.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("photos", sa.Column("face_crop", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("photos", "face_crop")
