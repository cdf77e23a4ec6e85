"""FHIR REST interface: the systems allowed to call it (OAuth2 client credentials, secret
stored hashed, SMART scopes) and the access tokens issued to them (hashed, short-lived).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:10:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.store.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fhir_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('client_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scopes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', engine.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('fhir_token',
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('issued_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['fhir_client.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_fhir_token_client_id'), 'fhir_token', ['client_id'], unique=False)
    op.create_index(op.f('ix_fhir_token_expires_at'), 'fhir_token', ['expires_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_fhir_token_expires_at'), table_name='fhir_token')
    op.drop_index(op.f('ix_fhir_token_client_id'), table_name='fhir_token')
    op.drop_table('fhir_token')
    op.drop_table('fhir_client')
