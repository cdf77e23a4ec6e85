"""Web workspace: one-time sign-in links (hashed), sign-in attempts (rate limit), the
append-only access log, and the task's acceptance and refusal (who, when, why).

On PostgreSQL a trigger refuses UPDATE and DELETE on ``access_log``: it is append-only.

Revision ID: 0006
Revises: 0005_patient_ald
Create Date: 2026-12-02 11:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.types

revision = '0006'
down_revision = '0005_patient_ald'
branch_labels = None
depends_on = None

_APPEND_ONLY = """
CREATE FUNCTION access_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
"""


def _ts(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, engine.store.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table('web_sign_in_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    _ts('created_at', False), _ts('expires_at', False), _ts('used_at', True),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('web_sign_in_token', schema=None) as batch_op:
        batch_op.create_index('ix_web_sign_in_token_professional_id', ['professional_id'],
                              unique=False)
    op.create_table('web_sign_in_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    _ts('at', False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('web_sign_in_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_sign_in_attempt_key', ['key', 'at'], unique=False)
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    _ts('at', False),
    sa.Column('professional_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patient.id'], ),
    sa.ForeignKeyConstraint(['professional_id'], ['professional.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index('ix_access_log_at', ['at'], unique=False)
        batch_op.create_index('ix_access_log_patient', ['patient_id', 'at'], unique=False)
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(_ts('accepted_at', True))
        batch_op.add_column(sa.Column('declined_by', sa.Integer(), nullable=True))
        batch_op.add_column(_ts('declined_at', True))
        batch_op.add_column(sa.Column('decline_reason',
                                      sqlmodel.sql.sqltypes.AutoString(length=500),
                                      nullable=True))
        batch_op.create_foreign_key('fk_task_declined_by', 'professional', ['declined_by'],
                                    ['id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER access_log_append_only ON access_log")
        op.execute("DROP FUNCTION access_log_append_only()")
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_declined_by', type_='foreignkey')
        batch_op.drop_column('decline_reason')
        batch_op.drop_column('declined_at')
        batch_op.drop_column('declined_by')
        batch_op.drop_column('accepted_at')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_patient')
        batch_op.drop_index('ix_access_log_at')
    op.drop_table('access_log')
    with op.batch_alter_table('web_sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempt_key')
    op.drop_table('web_sign_in_attempt')
    with op.batch_alter_table('web_sign_in_token', schema=None) as batch_op:
        batch_op.drop_index('ix_web_sign_in_token_professional_id')
    op.drop_table('web_sign_in_token')
