"""SQLite: the ``case_state`` triggers again, and the rows they keep rebuilt.

On SQLite, migrations 0012 and 0013 add columns to ``pathway_case`` in Alembic's batch
mode, which copies the table into a new one and drops its triggers: without them the
dashboard's counts by state stopped following the cases. PostgreSQL alters the table in
place and keeps its triggers; nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 16:35:00
"""
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_SQLITE = [
    "DROP TRIGGER IF EXISTS case_state_insert",
    "DROP TRIGGER IF EXISTS case_state_update",
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
    "DELETE FROM case_state",
    """INSERT OR IGNORE INTO case_state (case_id, state, pathway_key)
    SELECT c.id, j.value, c.pathway_key FROM pathway_case AS c, json_each(c.active_states) AS j
    WHERE c.closed_at IS NULL""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)


def downgrade() -> None:
    pass  # the triggers belong to 0010; nothing of this revision's own to remove
