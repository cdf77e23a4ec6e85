"""Runs ``migration.apply`` on a database; may SIGKILL itself after N statements.

Usage: python -m tests.db.migration_crash_worker URL [KILL_AFTER_N_STATEMENTS]
"""

from __future__ import annotations

import os
import signal
import sys

from sqlalchemy import event

from engine.store import migration
from engine.store.db import make_engine
from tests.db.migration_world import KEY
from tests.db.test_migration_crash import NOW


def main() -> None:
    url = sys.argv[1]
    kill_after = int(sys.argv[2]) if len(sys.argv) > 2 else -1
    engine = make_engine(url)
    if kill_after >= 0:
        count = {"n": 0}

        def _maybe_die(*_args: object) -> None:
            count["n"] += 1
            if count["n"] > kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

        event.listen(engine, "before_cursor_execute", _maybe_die)
        event.listen(engine, "commit", _maybe_die)
    migration.apply(engine, KEY, 2, NOW, batch_size=4)


if __name__ == "__main__":
    main()
