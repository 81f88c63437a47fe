"""Audit rows commit to their personal fields through a salted digest, so they can be anonymised.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows written before this revision keep their old hashes (no salt, no digest) and stay
    # verifiable; only rows written from now on can be anonymised without breaking the chain.
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("personal_salt", sa.String(32), nullable=True))
        batch.add_column(sa.Column("personal_digest", sa.String(64), nullable=True))
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("anonymised_at")
        batch.drop_column("personal_digest")
        batch.drop_column("personal_salt")
