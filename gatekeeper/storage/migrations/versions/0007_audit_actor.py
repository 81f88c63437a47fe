"""Admin actions in the audit chain: enrollments, renames, removals and migrations are rows too,
and each admin row names who did it (``actor``); a denial names its nearest enrolled person
(``nearest_id``).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("actor", sa.String(128), nullable=True))
    op.add_column("audit_events", sa.Column("nearest_id", sa.String(128), nullable=True))
    op.create_index("ix_audit_events_nearest_id", "audit_events", ["nearest_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_nearest_id", "audit_events")
    op.drop_column("audit_events", "nearest_id")
    op.drop_column("audit_events", "actor")
