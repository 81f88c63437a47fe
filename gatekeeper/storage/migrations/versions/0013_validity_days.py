"""Validity by calendar day: a date-only start or end is a day *at the door*, not an instant
fixed in the site's timezone (a contractor valid until the 11th may enter a Tokyo door on the
11th, Tokyo time, and not on the 12th).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch rebuild of people (it would cascade-delete photos: see 0008).
    op.add_column("people", sa.Column("valid_from_day", sa.Date(), nullable=True))
    op.add_column("people", sa.Column("valid_until_day", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("people", "valid_until_day")
    op.drop_column("people", "valid_from_day")
