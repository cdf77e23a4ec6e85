"""A deterministic synthetic territory for the demo and the tests (Faker, ``fr_FR``).

A CPTS of the Pays de Montbéliard kind: professionals of each profession the
published pathways name (médecins généralistes, infirmiers, pharmaciens,
cardiologue, endocrinologue…, one DAC and the CPTS coordinator), a few
hundred adult patients with plausible ages (skewed old, as a GP's list is),
about a quarter with type-2 diabetes (SNOMED CT 44054006) and a few with
heart failure (84114007), their recent observations (HbA1c, eGFR, weight,
NT-proBNP) and care teams. About 9 % have no médecin traitant, as in the
territory: their GP tasks go to the coordinator, flagged.

The same ``seed`` gives the same territory, names included. Everything is
invented: no real person is described. Rows are written directly (Core
inserts in one transaction), like an import would.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from faker import Faker
from sqlalchemy import Engine, insert

from engine.authoring import synthetic
from engine.clock import local_date
from engine.store.tables import (
    CARE_TEAM_TABLE,
    OBSERVATION_TABLE,
    PATIENT_TABLE,
    PROFESSIONAL_TABLE,
)

DIABETES_T2 = "44054006"
HEART_FAILURE = "84114007"
COMMUNES = ("25388", "25031", "25580", "25547", "25057", "25284", "70285", "25056")
#: role in a pathway → profession of who holds it
ROLE_PROFESSION = {"medecin_traitant": "medecin"}
#: professionals per 100 patients (at least one of each)
DENSITY = {"medecin": 3.0, "infirmier": 2.0, "pharmacien": 1.5}
SHARED = ("coordinateur", "dac")  # one for the whole territory


@dataclass
class Territory:
    professionals: dict[str, list[int]] = field(default_factory=dict)  # profession → ids
    patients: list[int] = field(default_factory=list)
    observations: int = 0
    care_team: int = 0

    @property
    def coordinator(self) -> int:
        return self.professionals["coordinateur"][0]


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum() or c in ".-")


def _age(rng: random.Random) -> int:
    """Adults, skewed old: a GP's list in a territory where a fifth is 65+."""
    return min(98, max(18, int(rng.triangular(18, 98, 74))))


def _birth(rng: random.Random, today: date, age: int) -> date:
    return today - timedelta(days=age * 365 + rng.randrange(365))


def _ins(sex: str, born: date, commune: str, orders: Counter[str]) -> str | None:
    """A 15-digit NIR-shaped number (invented; key computed as for a real one), unique in the
    territory: the order number counts the patients of the same sex, month of birth and
    commune, as a real one does. None when a commune-month already has 999 of them."""
    prefix = f"{1 if sex == 'M' else 2}{born:%y}{born:%m}{commune[:2]}{commune[2:]}"
    orders[prefix] += 1
    if orders[prefix] > 999:
        return None
    body = f"{prefix}{orders[prefix]:03d}"
    return body + f"{97 - int(body) % 97:02d}"


def _professionals(fake: Faker, rng: random.Random, roles: set[str],
                   patients: int) -> list[dict[str, Any]]:
    professions = {ROLE_PROFESSION.get(r, r) for r in roles} | set(DENSITY) | set(SHARED)
    rows: list[dict[str, Any]] = []
    for profession in sorted(professions):
        count = 1 if profession in SHARED else max(1, round(DENSITY.get(profession, 0.4)
                                                           * patients / 100))
        for _ in range(count):
            given, family = fake.first_name(), fake.last_name()
            handle = f"{_ascii(given)}.{_ascii(family)}{len(rows)}"
            rows.append({"rpps": f"10{len(rows) + 1:09d}", "family_name": family,
                         "given_names": given, "profession": profession,
                         "email": f"{handle}@example.fr",
                         "mssante": f"{handle}@{profession}.mssante.fr",
                         "phone": f"06{rng.randrange(10**8):08d}", "active": True,
                         "preferences": {}})
    return rows


def _patient(fake: Faker, rng: random.Random, today: date, n: int,
             created: datetime, orders: Counter[str]) -> dict[str, Any]:
    sex = rng.choice("FFFFMMMM" + "F")  # slightly more women among the old
    age = _age(rng)
    born = _birth(rng, today, age)
    commune = rng.choice(COMMUNES)
    conditions = []
    if rng.random() < (0.12 if age < 50 else 0.28):
        conditions.append(DIABETES_T2)
    if age >= 65 and rng.random() < 0.06:
        conditions.append(HEART_FAILURE)
    given = fake.first_name_female() if sex == "F" else fake.first_name_male()
    return {"ins": _ins(sex, born, commune, orders) if rng.random() < 0.85 else None,
            "local_id": f"MTB-{n:05d}", "family_name": fake.last_name(),
            "given_names": given, "birth_date": born, "sex": sex, "commune": commune,
            "conditions": conditions, "created_at": created}


def _observations(rng: random.Random, patient_id: int, row: dict[str, Any],
                  now: datetime) -> list[dict[str, Any]]:
    out = []

    def add(code: str, value: float, unit: str, days_ago: int) -> None:
        out.append({"patient_id": patient_id, "code": code, "system": "loinc",
                    "value": round(value, 1), "value_text": None, "unit": unit,
                    "effective_at": now - timedelta(days=days_ago, hours=rng.randrange(10)),
                    "recorded_at": now - timedelta(days=days_ago), "source": "laboratoire"})
    age = (local_date(now) - row["birth_date"]).days // 365
    if DIABETES_T2 in row["conditions"]:
        add("4548-4", synthetic.draw(rng, "4548-4", 5.2, 13.5), "%", rng.randrange(20, 120))
        add("62238-1", synthetic.draw(rng, "62238-1", 15, 130), "mL/min/1.73m2",
            rng.randrange(60, 300))
    if age >= 65:
        add("29463-7", synthetic.draw(rng, "29463-7", 38, 140), "kg", rng.randrange(5, 90))
        if HEART_FAILURE in row["conditions"] or rng.random() < 0.1:
            add("33762-6", synthetic.draw(rng, "33762-6"), "pg/mL", rng.randrange(30, 200))
    return out


def _team(rng: random.Random, patient_id: int, roles: set[str],
          pros: dict[str, list[int]], start: date) -> list[dict[str, Any]]:
    rows = []
    for role in sorted(roles):
        holders = pros.get(ROLE_PROFESSION.get(role, role), [])
        if not holders or role == "coordinateur":
            continue  # the coordinator is found by profession, not per patient
        if role == "medecin_traitant" and rng.random() < 0.09:
            continue  # no médecin traitant (9 % in the territory): tasks go to the coordinator
        if role not in ("medecin_traitant", "infirmier", "pharmacien", "dac") \
                and rng.random() < 0.05:
            continue  # a specialist not yet chosen: vacant role
        rows.append({"patient_id": patient_id, "professional_id": rng.choice(holders),
                     "role": role, "start_date": start - timedelta(days=rng.randrange(30, 2000)),
                     "end_date": None})
    return rows


def create_territory(engine: Engine, now: datetime, roles: set[str], *, patients: int = 300,
                     seed: int = 2026) -> Territory:
    """Write the professionals, patients, observations and care teams (one transaction)."""
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    territory = Territory()
    today = local_date(now)
    pro_table = PROFESSIONAL_TABLE
    patient_table = PATIENT_TABLE
    with engine.begin() as conn:
        pro_rows = _professionals(fake, rng, roles, patients)
        ids = conn.execute(insert(pro_table).returning(pro_table.c.id,
                                                       sort_by_parameter_order=True),
                           pro_rows).scalars().all()
        for pro_id, row in zip(ids, pro_rows, strict=True):
            territory.professionals.setdefault(row["profession"], []).append(pro_id)
        orders: Counter[str] = Counter()
        rows = [_patient(fake, rng, today, n, now, orders) for n in range(1, patients + 1)]
        territory.patients = list(conn.execute(
            insert(patient_table).returning(patient_table.c.id, sort_by_parameter_order=True),
            rows).scalars().all())
        observations, team = [], []
        for patient_id, row in zip(territory.patients, rows, strict=True):
            observations += _observations(rng, patient_id, row, now)
            team += _team(rng, patient_id, roles, territory.professionals, today)
        if observations:
            conn.execute(insert(OBSERVATION_TABLE), observations)
        if team:
            conn.execute(insert(CARE_TEAM_TABLE), team)
    territory.observations, territory.care_team = len(observations), len(team)
    return territory
