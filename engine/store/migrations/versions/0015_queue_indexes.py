"""Indexes for the coordinator's queue and the professionals' task lists on a large territory.

- ``ix_task_open_due``: open tasks by due date (partial: open statuses only), so that « À
  traiter » reads its hundred most overdue tasks in order instead of sorting every open one;
- ``ix_task_vacant``: tasks whose role nobody holds in the care team (partial);
- ``ix_care_team_professional``: the patients a professional cares for (their task list
  joined every care-team row of the territory without it).

The open statuses are written out as they are today (a migration is frozen text).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_OPEN = "status IN ('requested', 'accepted', 'in-progress', 'on-hold', 'declined')"


def upgrade() -> None:
    op.create_index('ix_task_open_due', 'task', ['due_at', 'id', 'assignee_id'], unique=False,
                    postgresql_where=sa.text(_OPEN), sqlite_where=sa.text(_OPEN))
    op.create_index('ix_task_vacant', 'task', ['due_at', 'id'], unique=False,
                    postgresql_where=sa.text('unassigned_role'),
                    sqlite_where=sa.text('unassigned_role = 1'))
    op.create_index('ix_care_team_professional', 'care_team', ['professional_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_care_team_professional', table_name='care_team')
    op.drop_index('ix_task_vacant', table_name='task')
    op.drop_index('ix_task_open_due', table_name='task')
