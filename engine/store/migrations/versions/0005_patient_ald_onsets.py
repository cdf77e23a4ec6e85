"""Patients: ALD status and the onset date of conditions (pathway guards read them:
sophia eligibility, lower-limb Doppler after 20 years of diabetes).

Revision ID: 0005_patient_ald
Revises: 0004
Create Date: 2026-12-02 11:20:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005_patient_ald'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('condition_onsets', sa.JSON().with_variant(
            postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False,
                                      server_default='{}'))
        batch_op.add_column(sa.Column('ald', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('patient', schema=None) as batch_op:
        batch_op.drop_column('ald')
        batch_op.drop_column('condition_onsets')
