"""Notifications: the channel each outbox message went out on (or was last tried on),
and an index on the outbox's task, to find a task's messages when it is closed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:15:52.071989
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=20),
                                      nullable=True))
        batch_op.create_index('ix_outbox_task', ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_task')
        batch_op.drop_column('channel')
