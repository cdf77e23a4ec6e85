"""Territory settings: published versions of a CPTS's parameter overrides per pathway
(``territory_settings``), and the settings version each case runs with
(``pathway_case.settings_version_id``; NULL: the pathway's defaults).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.store.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('territory_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pathway_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()),
                                               'postgresql'), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('file', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('pathway_version_id', sa.Integer(), nullable=False),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('published_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['pathway_version_id'], ['pathway_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pathway_key', 'version')
    )
    op.create_index(op.f('ix_territory_settings_pathway_key'), 'territory_settings',
                    ['pathway_key'], unique=False)
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('settings_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_pathway_case_settings_version', 'territory_settings',
                                    ['settings_version_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('pathway_case', schema=None) as batch_op:
        batch_op.drop_constraint('fk_pathway_case_settings_version', type_='foreignkey')
        batch_op.drop_column('settings_version_id')
    op.drop_index(op.f('ix_territory_settings_pathway_key'), table_name='territory_settings')
    op.drop_table('territory_settings')
