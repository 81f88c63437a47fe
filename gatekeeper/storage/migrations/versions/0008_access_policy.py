"""Access policy: doors (timezone, lockdown), weekly schedules with holidays, access groups
(door x schedule grants, members) and each person's validity (from, until, suspended). The
built-in schedule "always" is seeded, so a grant always names a schedule.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, never a batch rewrite: SQLite would drop and recreate "people", and with
    # foreign keys on, dropping it cascades into every enrolled photo.
    op.add_column("people", sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True))
    op.add_column("people", sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("people", sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "doors",
        sa.Column("door_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("lockdown", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("lockdown_since", sa.DateTime(timezone=True), nullable=True),
    )
    schedules = op.create_table("schedules", sa.Column("name", sa.String(64), primary_key=True))
    windows = op.create_table(
        "schedule_windows",
        sa.Column("window_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(64), sa.ForeignKey("schedules.name", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
    )
    op.create_table(
        "schedule_holidays",
        sa.Column("schedule", sa.String(64), sa.ForeignKey("schedules.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
    )
    op.create_table(
        "access_groups",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("override", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "group_doors",
        sa.Column("group", sa.String(64), sa.ForeignKey("access_groups.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("door_id", sa.String(64), sa.ForeignKey("doors.door_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("schedule", sa.String(64), sa.ForeignKey("schedules.name", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "group_members",
        sa.Column("group", sa.String(64), sa.ForeignKey("access_groups.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("person_id", sa.String(128), sa.ForeignKey("people.person_id", ondelete="CASCADE"), primary_key=True, index=True),
    )
    op.bulk_insert(schedules, [{"name": "always"}])
    op.bulk_insert(windows, [{"schedule": "always", "weekday": d, "start_minute": 0, "end_minute": 1440} for d in range(7)])


def downgrade() -> None:
    for table in ("group_members", "group_doors", "access_groups", "schedule_holidays", "schedule_windows", "schedules", "doors"):
        op.drop_table(table)
    for column in ("suspended", "valid_until", "valid_from"):
        op.drop_column("people", column)
