"""Coordinator's patient search: the folded family and given names (no accents, lower
case; byte order ``C`` collation on PostgreSQL) in two indexed columns, and an index on
the birth date; existing rows are filled.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:15:00
"""
import sqlalchemy as sa
from alembic import op

from engine.store.search import fold

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_family', sa.String(length=120).with_variant(
            sa.String(length=120, collation='C'), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('search_given', sa.String(length=200).with_variant(
            sa.String(length=200, collation='C'), 'postgresql'), nullable=True))
    patient = sa.table('patient', sa.column('id', sa.Integer), sa.column('family_name', sa.String),
                       sa.column('given_names', sa.String), sa.column('search_family', sa.String),
                       sa.column('search_given', sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(patient.c.id, patient.c.family_name, patient.c.given_names)).all()
    if rows:
        bind.execute(patient.update().where(patient.c.id == sa.bindparam('b_id')).values(
            search_family=sa.bindparam('b_family'), search_given=sa.bindparam('b_given')),
            [{'b_id': r.id, 'b_family': fold(r.family_name), 'b_given': fold(r.given_names)}
             for r in rows])
    op.create_index('ix_patient_search_family', 'patient', ['search_family'], unique=False)
    op.create_index('ix_patient_search_given', 'patient', ['search_given'], unique=False)
    op.create_index('ix_patient_birth_date', 'patient', ['birth_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_patient_birth_date', table_name='patient')
    op.drop_index('ix_patient_search_given', table_name='patient')
    op.drop_index('ix_patient_search_family', table_name='patient')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('search_given')
        batch_op.drop_column('search_family')
