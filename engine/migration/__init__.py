"""Migration of running cases to another version of their pathway: pure logic, no database.

``mapping`` reads and checks a mapping file against the two versions; ``move`` moves one
case. The database side (plans, batches, runs, rollback) is ``engine.store.migration``.
"""

from engine.migration.mapping import Mapping, load_mapping, load_mapping_text
from engine.migration.move import Move, Refusal, migrate_case, note

__all__ = ["Mapping", "Move", "Refusal", "load_mapping", "load_mapping_text", "migrate_case",
           "note"]
