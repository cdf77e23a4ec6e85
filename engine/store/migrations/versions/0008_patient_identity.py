"""Patient identity from interfaces: the INS's OID and the identity reliability status on
the patient, the sending facilities' identifiers (IPP) mapped to our patients, and the
abnormal flags of an observation.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:30:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('patient_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('system', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('type_code', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('created_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('system', 'value')
    )
    op.create_index('ix_patient_identifier_patient', 'patient_identifier', ['patient_id'],
                    unique=False)
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ins_oid', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('identity_status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interpretation', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_column('interpretation')
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('identity_status')
        batch_op.drop_column('ins_oid')
    op.drop_index('ix_patient_identifier_patient', table_name='patient_identifier')
    op.drop_table('patient_identifier')
