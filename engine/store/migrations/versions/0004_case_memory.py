"""What a case remembers beyond its facts (``pathway_case.memory``, JSON): the bounded
observation history its guards read through ``history.KEY`` (and, later, the hospital
stays it has seen). Existing cases start with an empty memory.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 11:20:00.000000
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'memory', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                             'postgresql'),
            nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.drop_column('memory')
