"""The coordinator's patient search on a large territory (PostgreSQL).
Run: ``.venv/bin/python benchmarks/patient_search.py [--patients 50000] [--searches 300]``.

1. Creates a fresh PostgreSQL database (dropped at the end), migrates it, and inserts
   ``--patients`` patients with French names (Faker ``fr_FR``: accents, hyphens,
   compound given names), birth dates, INS and local ids, through one Core statement (the
   folded search columns are filled by their column defaults, as in production).
2. Runs ``--searches`` searches of ``engine.store.people.search_patients`` (page 1, 25
   results), one at a time, as a coordinator types them: a 2- and 3-letter prefix, a
   family name typed without accents in lower case, « given family », a birth date
   (JJ/MM/AAAA), an INS, a local id.
3. Prints p50/p95/max per kind of search and the plan of one (EXPLAIN ANALYZE).

Goal (issue 13): no scan of the patient table per keystroke; p95 well under 100 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import drop_pg_database, fresh_pg_database, machine


def _patients(count: int, seed: int) -> list[dict[str, object]]:
    from faker import Faker

    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        given = fake.first_name() if rng.random() < 0.8 else \
            f"{fake.first_name()} {fake.first_name()}"
        rows.append({"family_name": fake.last_name(), "given_names": given,
                     "birth_date": date(1930, 1, 1) + timedelta(days=rng.randrange(30_000)),
                     "sex": rng.choice("FM"), "ins": f"{n + 100_000_000_000_000:015d}",
                     "local_id": f"L-{n:06d}", "conditions": [], "condition_onsets": {},
                     "created_at": datetime(2026, 1, 1, tzinfo=UTC)})
    return rows


def _queries(rows: list[dict[str, object]], count: int, seed: int) -> list[tuple[str, str]]:
    from engine.store.search import fold

    rng = random.Random(seed + 1)
    out = []
    for _ in range(count):
        row = rng.choice(rows)
        family = fold(str(row["family_name"]))
        given = fold(str(row["given_names"])).split()[0]
        born = row["birth_date"]
        assert isinstance(born, date)
        out += [("prefix 2 letters", family[:2]), ("prefix 3 letters", family[:3]),
                ("family name without accents", family),
                ("given + family", f"{given} {family}"),
                ("birth date", f"{born:%d/%m/%Y}"), ("INS", str(row["ins"])),
                ("local id", str(row["local_id"]))]
    rng.shuffle(out)
    return out[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=50_000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    from sqlalchemy import insert, text

    from engine.store import people
    from engine.store.db import make_engine, transaction
    from engine.store.migrate import upgrade
    from engine.store.tables import PATIENT_TABLE

    url, name = fresh_pg_database()
    engine = make_engine(url)
    try:
        upgrade(engine)
        started = time.perf_counter()
        rows = _patients(args.patients, args.seed)
        with engine.begin() as conn:
            for start in range(0, len(rows), 5000):
                conn.execute(insert(PATIENT_TABLE), rows[start:start + 5000])
            conn.execute(text("ANALYZE patient"))
        print(f"{args.patients} patients inserted in {time.perf_counter() - started:.1f} s")
        timings: dict[str, list[float]] = defaultdict(list)
        found: dict[str, int] = defaultdict(int)
        for kind, query in _queries(rows, args.searches, args.seed):
            t0 = time.perf_counter()
            with transaction(engine) as db:
                result = people.search_patients(db, query)
            timings[kind].append((time.perf_counter() - t0) * 1000)
            found[kind] += bool(result.hits)
        print(f"machine: {machine()}")
        print(f"{'search':<30} {'n':>4} {'found':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        every: list[float] = []
        for kind, values in sorted(timings.items()):
            values.sort()
            every += values
            p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
            print(f"{kind:<30} {len(values):>4} {found[kind]:>5} "
                  f"{statistics.median(values):>8.1f} {p95:>8.1f} {values[-1]:>8.1f}")
        every.sort()
        print(f"{'all':<30} {len(every):>4} {'':>5} {statistics.median(every):>8.1f} "
              f"{every[min(len(every) - 1, int(0.95 * len(every)))]:>8.1f} {every[-1]:>8.1f}")
        sample = people.patient_search_query("marie dup")
        assert sample is not None
        compiled = sample.compile(engine, compile_kwargs={"literal_binds": True})
        with engine.connect() as conn:
            plan = [r[0] for r in conn.execute(text(f"EXPLAIN ANALYZE {compiled}"))]
        print("plan of « marie dup »:")
        print("\n".join("  " + line for line in plan))
        if any("Seq Scan on patient" in line for line in plan):
            print("FAIL: the search scans the patient table")
            return 1
        return 0
    finally:
        engine.dispose()
        drop_pg_database(name)


if __name__ == "__main__":
    sys.exit(main())
