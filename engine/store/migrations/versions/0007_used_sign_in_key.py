"""Web sign-in: the OpenID Connect states and nonces already used (hashed), so that a
replayed sign-in response is refused by every worker.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 11:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

import engine.store.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_used_sign_in_key',
        sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('used_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key_hash'),
    )
    op.create_index('ix_web_used_sign_in_key_expires_at', 'web_used_sign_in_key', ['expires_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_web_used_sign_in_key_expires_at', table_name='web_used_sign_in_key')
    op.drop_table('web_used_sign_in_key')
