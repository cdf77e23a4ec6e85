"""Migration of running cases to another pathway version (issue 15): the runs and the cases
they moved (what a rollback needs), and the stored case format number on each case.

Rows already stored were written by the release that has format 3 (``engine.caseformat``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 14:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.store.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('format', sa.Integer(), nullable=False,
                                      server_default='3'))
    op.create_table('migration_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('to_version_id', sa.Integer(), nullable=False),
    sa.Column('mapping_file', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('mapping_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('mapping_text', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('counts', _JSON, nullable=False),
    sa.Column('started_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rolled_back_at', engine.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['to_version_id'], ['pathway_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_migration_run_pathway_key'), 'migration_run', ['pathway_key'],
                    unique=False)
    op.create_table('migration_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_version_id', sa.Integer(), nullable=False),
    sa.Column('before', _JSON, nullable=False),
    sa.Column('changes', _JSON, nullable=False),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['pathway_case.id'], ),
    sa.ForeignKeyConstraint(['from_version_id'], ['pathway_version.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['migration_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'case_id')
    )
    op.create_index('ix_migration_case_case', 'migration_case', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_migration_case_case', table_name='migration_case')
    op.drop_table('migration_case')
    op.drop_index(op.f('ix_migration_run_pathway_key'), table_name='migration_run')
    op.drop_table('migration_run')
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.drop_column('format')
