"""Door captures for the review queue, and faces an admin marked as not a given person.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "door_captures",
        sa.Column("capture_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, nullable=True),
        sa.Column("door_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("nearest_id", sa.String(128), nullable=True, index=True),
        sa.Column("best_similarity", sa.Float, nullable=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("face_crop", sa.LargeBinary, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("quality", sa.JSON, nullable=False),
    )
    op.create_table(
        "negative_faces",
        sa.Column("negative_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(128), sa.ForeignKey("people.person_id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("embedding", sa.LargeBinary, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("negative_faces")
    op.drop_table("door_captures")
