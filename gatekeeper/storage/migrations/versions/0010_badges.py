"""Badge numbers for card + face doors: one badge per person, unique across the site.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A table of its own, not a column of people: adding a column to people in a batch rebuild
    # would cascade-delete every photo under SQLite's foreign keys (see 0008).
    op.create_table(
        "badges",
        sa.Column("number", sa.String(64), primary_key=True),
        sa.Column("person_id", sa.String(128), sa.ForeignKey("people.person_id", ondelete="CASCADE"), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("badges")
