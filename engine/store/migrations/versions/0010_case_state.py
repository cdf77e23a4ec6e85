"""The coordinator's dashboard and work queue: ``case_state``, one row per active state of each open case,
kept by triggers on ``pathway_case`` so that counting cases by state reads a small index
instead of every case's JSON; and a partial index on the ``advance_failed`` history lines
(the queue's cases whose timers failed) and one on the open cases' ids and pathways (open
cases by pathway, the pathway of each open task).

The triggers run in the transaction that writes the case, whoever writes it (the bulk
writer, enrolment, closing, imports): the counts can never drift from the cases. On
PostgreSQL the update trigger fires only when ``active_states`` or ``closed_at`` really
changed (the bulk writer rewrites every column of every case it advances).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_PG = """
CREATE FUNCTION case_state_sync() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM case_state WHERE case_id = OLD.id;
    END IF;
    IF NEW.closed_at IS NULL THEN
        INSERT INTO case_state (case_id, state, pathway_key)
        SELECT NEW.id, s, NEW.pathway_key
        FROM jsonb_array_elements_text(NEW.active_states) AS s
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER case_state_insert AFTER INSERT ON pathway_case
    FOR EACH ROW EXECUTE FUNCTION case_state_sync();
CREATE TRIGGER case_state_update AFTER UPDATE ON pathway_case
    FOR EACH ROW WHEN (OLD.active_states IS DISTINCT FROM NEW.active_states
                       OR OLD.closed_at IS DISTINCT FROM NEW.closed_at
                       OR OLD.pathway_key IS DISTINCT FROM NEW.pathway_key)
    EXECUTE FUNCTION case_state_sync();
INSERT INTO case_state (case_id, state, pathway_key)
    SELECT id, jsonb_array_elements_text(active_states), pathway_key
    FROM pathway_case WHERE closed_at IS NULL
    ON CONFLICT DO NOTHING;
"""

_SQLITE = [
    """CREATE TRIGGER case_state_insert AFTER INSERT ON pathway_case
    WHEN NEW.closed_at IS NULL
    BEGIN
        INSERT OR IGNORE INTO case_state (case_id, state, pathway_key)
        SELECT NEW.id, value, NEW.pathway_key FROM json_each(NEW.active_states);
    END""",
    """CREATE TRIGGER case_state_update
    AFTER UPDATE OF active_states, closed_at, pathway_key ON pathway_case
    BEGIN
        DELETE FROM case_state WHERE case_id = OLD.id;
        INSERT OR IGNORE INTO case_state (case_id, state, pathway_key)
        SELECT NEW.id, value, NEW.pathway_key FROM json_each(NEW.active_states)
        WHERE NEW.closed_at IS NULL;
    END""",
    """INSERT OR IGNORE INTO case_state (case_id, state, pathway_key)
    SELECT c.id, j.value, c.pathway_key FROM pathway_case AS c, json_each(c.active_states) AS j
    WHERE c.closed_at IS NULL""",
]


def upgrade() -> None:
    op.create_table('case_state',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('pathway_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['pathway_case.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('case_id', 'state')
    )
    op.create_index('ix_case_state_pathway_state', 'case_state',
                    ['pathway_key', 'state', 'case_id'],
                    unique=False)
    op.create_index('ix_case_open_pathway', 'pathway_case', ['id', 'pathway_key'],
                    unique=False, postgresql_where=sa.text("closed_at IS NULL"),
                    sqlite_where=sa.text("closed_at IS NULL"))
    op.create_index('ix_case_event_advance_failed', 'case_event', ['case_id', 'id'],
                    unique=False, postgresql_where=sa.text("kind = 'advance_failed'"),
                    sqlite_where=sa.text("kind = 'advance_failed'"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG)
    else:
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER case_state_update ON pathway_case")
        op.execute("DROP TRIGGER case_state_insert ON pathway_case")
        op.execute("DROP FUNCTION case_state_sync()")
    else:
        op.execute("DROP TRIGGER case_state_update")
        op.execute("DROP TRIGGER case_state_insert")
    op.drop_index('ix_case_event_advance_failed', table_name='case_event')
    op.drop_index('ix_case_open_pathway', table_name='pathway_case')
    op.drop_index('ix_case_state_pathway_state', table_name='case_state')
    op.drop_table('case_state')
