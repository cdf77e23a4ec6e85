"""Checking one value against its declared type and plausible range.

Shared by the runtime (messages in English, for pathway authors replaying
timelines) and the persistence layer (messages in French, for coordinators):
one set of rules, two wordings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from engine.exceptions import InvalidEventDataError
from engine.pathway.model import FieldSpec

Lang = Literal["en", "fr"]

MESSAGES: dict[Lang, dict[str, str]] = {
    "en": {
        "nan": "{title}: {value!r} is not a number; expected a {whole}number{range}",
        "whole": "whole ", "not_whole": "{title}: {value!r} is not a whole number",
        "impossible": "{title}: {value}{unit} is impossible; allowed{range}",
        "bool": "{title}: expected true or false, got {value!r}",
        "choice": "{title}: {value!r} is not allowed; choose one of {choices}",
        "text": "{title}: expected a text, got {value!r}",
        "date": "{title}: expected a date, got {value!r}",
        "between": " between {lo:g} and {hi:g}{unit}", "min": " of at least {lo:g}{unit}",
        "max": " of at most {hi:g}{unit}",
        "unknown": "{title}: unknown field(s) {names}; allowed: {allowed}",
        "missing": "{title}: missing field {name!r} ({type})", "none": "none",
        "field": "{title}, field {name!r}",
    },
    "fr": {
        "nan": "{title} : {value!r} n'est pas un nombre ; attendu un nombre{whole}{range}",
        "whole": " entier", "not_whole": "{title} : {value!r} n'est pas un nombre entier",
        "impossible": "{title} : {value}{unit} est impossible ; valeurs admises{range}",
        "bool": "{title} : attendu oui ou non, reçu {value!r}",
        "choice": "{title} : {value!r} n'est pas admis ; choisir parmi {choices}",
        "text": "{title} : texte attendu, reçu {value!r}",
        "date": "{title} : date attendue, reçu {value!r}",
        "between": " entre {lo:g} et {hi:g}{unit}", "min": " d'au moins {lo:g}{unit}",
        "max": " d'au plus {hi:g}{unit}",
        "unknown": "{title} : champ(s) inconnu(s) {names} ; champs possibles : {allowed}",
        "missing": "{title} : champ {name!r} manquant ({type})", "none": "aucun",
        "field": "{title}, champ {name!r}",
    },
}


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def parse_number(raw: str, integer: bool = False) -> int | float | str:
    """A number typed by a person or sent in a file: digits with an optional ``.`` or French
    ``,`` decimal part. No exponent, no ``_``, no ``nan``/``inf``: anything else comes back
    unchanged, for ``check_value`` to refuse with its message."""
    text = raw.strip()
    if not _NUMBER.match(text):
        return raw
    if integer:
        return int(text) if text.lstrip("+-").isdigit() else raw
    return float(text.replace(",", "."))


def check_value(title: str, value: Any, kind: str, minimum: float | None = None,
                maximum: float | None = None, choices: list[Any] | None = None,
                unit: str | None = None, *, lang: Lang = "en") -> Any:
    """Refuse a value that is not of ``kind`` or outside [minimum, maximum]."""
    text = MESSAGES[lang]
    unit_text = f" {unit}" if unit else ""
    problem: str | None = None
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            problem = text["nan"].format(title=title, value=value,
                                         range=_range(text, minimum, maximum, unit_text),
                                         whole=text["whole"] if kind == "integer" else "")
        elif kind == "integer" and not float(value).is_integer():
            problem = text["not_whole"].format(title=title, value=value)
        elif (minimum is not None and value < minimum) or \
                (maximum is not None and value > maximum):
            problem = text["impossible"].format(title=title, value=value, unit=unit_text,
                                                range=_range(text, minimum, maximum, unit_text))
    elif kind == "boolean" and not isinstance(value, bool):
        problem = text["bool"].format(title=title, value=value)
    elif kind == "choice" and choices is not None and value not in choices:
        problem = text["choice"].format(title=title, value=value,
                                        choices=", ".join(map(str, choices)))
    elif kind == "text" and not isinstance(value, str):
        problem = text["text"].format(title=title, value=value)
    elif kind == "date" and not isinstance(value, date | str):
        problem = text["date"].format(title=title, value=value)
    if problem is not None:
        raise InvalidEventDataError(problem)
    return value


def _range(text: Mapping[str, str], minimum: float | None, maximum: float | None,
           unit: str) -> str:
    if minimum is not None and maximum is not None:
        return text["between"].format(lo=minimum, hi=maximum, unit=unit)
    if minimum is not None:
        return text["min"].format(lo=minimum, unit=unit)
    if maximum is not None:
        return text["max"].format(hi=maximum, unit=unit)
    return ""


def check_fields(title: str, values: Mapping[str, Any], spec: Mapping[str, FieldSpec], *,
                 lang: Lang = "en") -> None:
    text = MESSAGES[lang]
    unknown = [k for k in values if k not in spec]
    if unknown:
        raise InvalidEventDataError(text["unknown"].format(
            title=title, names=", ".join(unknown), allowed=", ".join(spec) or text["none"]))
    for name, field_spec in spec.items():
        if name not in values:
            if field_spec.required:
                raise InvalidEventDataError(text["missing"].format(
                    title=title, name=name, type=field_spec.type))
            continue
        if not _plainly_valid(values[name], field_spec):
            check_value(text["field"].format(title=title, name=name), values[name],
                        field_spec.type, field_spec.minimum, field_spec.maximum,
                        field_spec.choices, field_spec.unit, lang=lang)


def _plainly_valid(value: Any, spec: FieldSpec) -> bool:
    return plainly_valid(value, spec.type, spec.minimum, spec.maximum)


def plainly_valid(value: Any, kind: str, minimum: float | None,
                  maximum: float | None) -> bool:
    """The common case of ``check_value`` without building its messages: a finite number
    within its bounds (a whole one for an integer field). Anything else goes through
    ``check_value``, which accepts it or says why not."""
    if kind not in ("number", "integer") or isinstance(value, bool) \
            or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    if kind == "integer" and not float(value).is_integer():
        return False
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
