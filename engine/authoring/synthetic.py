"""The synthetic population model: plausible values for simulations, the demo and benchmarks.

One model shared by the cohort simulation (``engine.authoring.simulate``), the demo
territory and its simulated days (``flows.territory``, ``flows.simulation``) and the
benchmarks (which build on the demo territory).

What a simulated patient and their professionals answer: observation values
drawn around realistic medians (by LOINC code), task results drawn from
realistic frequencies (by result field name), how long professionals take to
do a task, how often exits and hospital stays happen. These are *assumptions*
for sizing a pathway, printed with every simulation; they are not clinical
facts and no pathway decision reads them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from engine.pathway.model import FieldSpec, Observation

#: share of tasks done on time (within the due delay), late (up to 2.5×) or never
ON_TIME, LATE = 0.70, 0.20
#: yearly rate of an exit (death, moving, withdrawal) and of other manual pathway events
EXIT_RATE, EVENT_RATE = 0.04, 0.08
#: yearly rate of hospital admissions (patients of a pathway that reacts to them),
#: chance of an early readmission within 30 days, length of stay in days (min, mode, max)
ADMISSION_RATE, EARLY_READMISSION = 0.40, 0.15
STAY_DAYS = (2.0, 7.0, 25.0)
#: chance that an observation a state waits for (without a task) is ever recorded
OBSERVED = 0.90

#: observation code → (kind, centre, spread): gauss(centre, spread) or lognormal(median, sigma)
OBSERVATIONS: dict[str, tuple[str, float, float]] = {
    "4548-4": ("gauss", 7.1, 0.9),        # HbA1c %, patient's own level (see ``Patient``)
    "33762-6": ("lognormal", 300.0, 1.2),  # NT-proBNP pg/mL
    "30934-4": ("lognormal", 60.0, 1.0),   # BNP pg/mL
    "62238-1": ("gauss", 72.0, 20.0),     # eGFR mL/min/1.73 m²
    "9318-7": ("lognormal", 15.0, 1.2),    # urine albumin/creatinine mg/g
    "29463-7": ("gauss", 75.0, 14.0),     # body weight kg
}
#: the same observation again for one patient varies this much around their own level
WITHIN_PATIENT = {"4548-4": 0.4, "29463-7": 1.0}

#: result field → weights of its values, or the chance that a boolean is true
CHOICES: dict[str, dict[Any, float]] = {
    "grade": {0: 0.50, 1: 0.25, 2: 0.15, 3: 0.10},
    "profil": {"generale": 0.55, "diagnostic_recent": 0.10, "comorbidite": 0.10,
               "age_vigoureux": 0.08, "age_fragile": 0.07, "age_malade": 0.03,
               "irc_3": 0.05, "irc_4_5": 0.02},
    "gir": {1: 0.03, 2: 0.08, 3: 0.10, 4: 0.20, 5: 0.20, 6: 0.39},
    "nyha": {1: 0.20, 2: 0.45, 3: 0.28, 4: 0.07},
    "motif": {"deces": 0.5, "demenagement": 0.3},
}
TRUE_CHANCE: dict[str, float] = {
    "tension_dans_cible": 0.60, "essoufflement": 0.20, "prise_de_poids": 0.10,
    "oedemes": 0.15, "fatigue": 0.30, "ic_confirmee": 0.50, "recue": 0.85,
    "situation_complexe": 0.15, "aide_domicile": 0.30,
}

def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


ASSUMPTIONS = (
    f"tâches faites à temps {_pct(ON_TIME)}, en retard {_pct(LATE)}, jamais "
    f"{_pct(1 - ON_TIME - LATE)} ; sorties du parcours {_pct(EXIT_RATE)} par an ; autres "
    f"événements déclarés {_pct(EVENT_RATE)} par an ; hospitalisations {_pct(ADMISSION_RATE)} "
    f"par an, dont {_pct(EARLY_READMISSION)} suivies d'une réadmission sous 30 jours ; "
    "résultats biologiques tirés autour de médianes plausibles")


@dataclass
class Patient:
    """One synthetic patient's random source and own biological levels."""

    rng: random.Random
    levels: dict[str, float]

    def observation(self, spec: Observation) -> float | int | bool | str:
        rng = self.rng
        if spec.type == "boolean":
            return rng.random() < 0.5
        if spec.type == "choice":
            return rng.choice(spec.choices or [""])
        model = OBSERVATIONS.get(spec.code)
        if model is None:
            low = spec.minimum if spec.minimum is not None else 0.0
            high = spec.maximum if spec.maximum is not None else low + 100.0
            value = rng.uniform(low, low + (high - low) / 3)
        elif spec.code in WITHIN_PATIENT:
            level = self.levels.setdefault(spec.code, _draw(rng, model))
            value = rng.gauss(level, WITHIN_PATIENT[spec.code])
        else:
            value = _draw(rng, model)
        value = _clip(value, spec.minimum, spec.maximum)
        return round(value) if spec.type == "integer" else round(value, 1)

    def result(self, fields: Mapping[str, FieldSpec],
               today: date | None = None) -> dict[str, Any]:
        return {name: self.value(name, spec, today) for name, spec in fields.items()}

    def value(self, name: str, spec: FieldSpec, today: date | None = None) -> Any:
        rng = self.rng
        if spec.type == "date":
            return today.isoformat() if today is not None else None
        if spec.type == "boolean":
            return rng.random() < TRUE_CHANCE.get(name, 0.5)
        allowed = spec.choices
        if spec.type == "integer" and allowed is None and spec.minimum is not None \
                and spec.maximum is not None:
            allowed = list(range(int(spec.minimum), int(spec.maximum) + 1))
        if allowed is not None:
            return weighted(rng, allowed, CHOICES.get(name, {}))
        if spec.type in ("number", "integer"):
            low = spec.minimum if spec.minimum is not None else 0.0
            high = spec.maximum if spec.maximum is not None else low + 10.0
            number = rng.uniform(low, high)
            return round(number) if spec.type == "integer" else round(number, 1)
        return "simulé" if spec.type == "text" else None


def weighted(rng: random.Random, allowed: list[Any], weights: Mapping[Any, float]) -> Any:
    """One of ``allowed``; values without a weight share what the known ones leave."""
    known = [weights.get(v) for v in allowed]
    rest = max(0.0, 1.0 - sum(w for w in known if w is not None))
    unknown = sum(1 for w in known if w is None)
    chances = [w if w is not None else rest / unknown for w in known] if unknown else \
        [w or 0.0 for w in known]
    if sum(chances) <= 0:
        return rng.choice(allowed)
    return rng.choices(allowed, weights=chances)[0]


def task_delay_factor(rng: random.Random) -> float | None:
    """When a task is done, as a multiple of its due delay; None: never done."""
    draw = rng.random()
    if draw < ON_TIME:
        return rng.uniform(0.1, 1.0)
    if draw < ON_TIME + LATE:
        return rng.uniform(1.0, 2.5)
    return None


def draw(rng: random.Random, code: str, low: float | None = None,
         high: float | None = None) -> float:
    """One value of observation ``code`` for a patient drawn at random (no own level),
    clipped to [low, high], rounded to one decimal."""
    model = OBSERVATIONS.get(code)
    if model is None:
        raise KeyError(f"no synthetic model for observation {code!r}; known: "
                       f"{', '.join(OBSERVATIONS)}")
    return round(_clip(_draw(rng, model), low, high), 1)


def _draw(rng: random.Random, model: tuple[str, float, float]) -> float:
    kind, centre, spread = model
    if kind == "lognormal":
        return math.exp(rng.gauss(math.log(centre), spread))
    return rng.gauss(centre, spread)


def _clip(value: float, low: float | None, high: float | None) -> float:
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value
