"""Forms generated from declarations, and their server-side parsing.

A task's result form comes from its ``result:`` declaration in the compiled pathway:
boolean → oui/non radio buttons, number/integer → a number field with its unit and
bounds, choice → a list, date → a date field, text → a text field; optional fields are
marked « facultatif ». Parsing uses the engine's own rules and French messages
(``engine.store.service.parse_value``), one message per field, shown next to it; a French
decimal comma is accepted (« 7,5 » is 7.5).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.pathway.model import FieldSpec
from engine.store.exceptions import InputError
from engine.store.service import parse_value

TEXT_MAX = 1000
PREFIX = "resultat_"


@dataclass(frozen=True)
class FormField:
    """One field as the template draws it."""

    name: str
    id: str
    label: str
    type: str
    required: bool
    unit: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    value: str = ""
    error: str = ""

    @property
    def step(self) -> str:
        return "1" if self.type == "integer" else "any"


def result_fields(spec: Mapping[str, FieldSpec], values: Mapping[str, str] | None = None,
                  errors: Mapping[str, str] | None = None) -> list[FormField]:
    values, errors = values or {}, errors or {}
    return [FormField(PREFIX + key, "champ-" + PREFIX + key, f.title or key, f.type,
                      f.required, f.unit, f.minimum, f.maximum,
                      tuple(str(c) for c in f.choices or ()), values.get(key, ""),
                      errors.get(key, ""))
            for key, f in spec.items()]


def submitted(form: Mapping[str, Any], spec: Mapping[str, FieldSpec]) -> dict[str, str]:
    return {key: _text(form.get(PREFIX + key)).strip() for key in spec}


def parse_result(spec: Mapping[str, FieldSpec], raw: Mapping[str, str]
                 ) -> tuple[dict[str, Any], dict[str, str]]:
    """The typed result and, by field, what is wrong (empty when all is well)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, field in spec.items():
        text = raw.get(key, "")
        title = field.title or key
        if not text:
            if field.required:
                errors[key] = f"{title} : champ obligatoire"
            continue
        try:
            values[key] = parse_field(field, title, text)
        except InputError as exc:
            errors[key] = str(exc)
    return values, errors


def parse_field(field: FieldSpec, title: str, text: str) -> Any:
    if field.type == "date":
        return parse_date(title, text).isoformat()
    if field.type == "text":
        if len(text) > TEXT_MAX:
            raise InputError(f"{title} : {len(text)} caractères ; au plus {TEXT_MAX}")
        return text
    if field.type == "choice":
        choice = next((c for c in field.choices or () if str(c) == text), text)
        return parse_value({**field.model_dump(), "title": title}, choice)
    if field.type == "integer" and re.fullmatch(r"[+-]?\d+,0*", text):
        text = text.split(",")[0]
    return parse_value({**field.model_dump(), "title": title}, text)


def parse_date(title: str, text: str) -> date:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise InputError(f"{title} : date attendue (jj/mm/aaaa), reçu {text!r}")


def new_key() -> str:
    """The idempotency key of a form: a double submission applies once."""
    return uuid.uuid4().hex


def valid_key(text: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{32}", text) is not None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
