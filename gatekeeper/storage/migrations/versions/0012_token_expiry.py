"""API tokens expire: an expiry instant per token (NULL for tokens made before it: they expire
one year after this upgrade).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(sa.text("UPDATE api_tokens SET expires_at = :at").bindparams(at=datetime.now(timezone.utc) + timedelta(days=365)))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
