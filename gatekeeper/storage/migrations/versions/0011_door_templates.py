"""Candidate template photos the door keeps after confident grants, for an admin to accept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_candidates",
        sa.Column("candidate_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(128), sa.ForeignKey("people.person_id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("door_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("similarity", sa.Float, nullable=False),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("face_crop", sa.LargeBinary, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("quality", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("template_candidates")
