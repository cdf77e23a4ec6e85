"""Import professionals and patients from CSV or YAML, all rows or none.

Formats (documented in docs/imports.md):

- professionals: ``rpps, family_name, given_names, profession, email, mssante, phone, active``
- patients: ``ins, local_id, family_name, given_names, birth_date, sex, commune, conditions``
  (``conditions``: SNOMED CT codes separated by ``;``)

A CSV file has a header line with these column names; a YAML file is a list of
mappings with the same keys. Existing rows (same RPPS, INS or local id) are
updated. A file with any bad row imports nothing and every bad row is listed
with its line number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from engine.pathway.reader import YamlReadError, read_file
from engine.store import lengths, textfiles
from engine.store.exceptions import ImportFileError
from engine.store.tables import PATIENT_TABLE, PROFESSIONAL_TABLE, SEXES, Patient, Professional

PROFESSIONS = (
    "medecin", "infirmier", "pharmacien", "cardiologue", "pedicure_podologue",
    "chirurgien_dentiste", "kinesitherapeute", "sage_femme", "orthophoniste", "pediatre",
    "psychologue", "dieteticien", "endocrinologue", "ophtalmologue", "orthoptiste",
    "angiologue", "coordinateur", "dac")
PROFESSIONAL_FIELDS = ("rpps", "family_name", "given_names", "profession", "email", "mssante",
                       "phone", "active")
PATIENT_FIELDS = ("ins", "local_id", "family_name", "given_names", "birth_date", "sex",
                  "commune", "conditions", "ald")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_PHONE = re.compile(r"^(\+33|0)[1-9](\d{8})$")


def rows(path: str, fields: tuple[str, ...],
         encoding: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) pairs from a CSV or YAML file; structural problems raise ImportFileError."""
    if Path(path).suffix.lower() in (".yaml", ".yml") and not Path(path).is_dir():
        if not Path(path).exists():
            raise ImportFileError(path, [f"fichier introuvable : {path}"])
        yield from _yaml_rows(path, fields)
        return
    text = textfiles.read_text(path, encoding)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=textfiles.delimiter(text))
    unknown = [c for c in reader.fieldnames or [] if c not in fields]
    if unknown or not reader.fieldnames:
        raise ImportFileError(path, [f"ligne 1 : colonnes inconnues {', '.join(unknown)} ; "
                                     f"colonnes attendues : {', '.join(fields)}"])
    for row in reader:
        if None in row:
            raise ImportFileError(path, [f"ligne {reader.line_num} : trop de valeurs "
                                         f"(attendu {len(reader.fieldnames)} colonnes)"])
        yield reader.line_num, {k: (v.strip() if isinstance(v, str) else v) or None
                                for k, v in row.items()}


def _yaml_rows(path: str, fields: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        doc, problems = read_file(path)
    except YamlReadError as exc:
        raise ImportFileError(path, [str(d) for d in exc.diagnostics]) from exc
    if problems:
        raise ImportFileError(path, [str(d) for d in problems])
    if not isinstance(doc.data, list):
        raise ImportFileError(path, ["ligne 1 : le fichier doit être une liste d'éléments"])
    for i, item in enumerate(doc.data):
        line = doc.position((i,))[0]
        if not isinstance(item, dict):
            raise ImportFileError(path, [f"ligne {line} : chaque élément doit être un "
                                         "dictionnaire (clé: valeur)"])
        unknown = [k for k in item if k not in fields]
        if unknown:
            names = ", ".join(map(str, unknown))
            raise ImportFileError(path, [f"ligne {line} : clés inconnues {names} ; "
                                         f"clés possibles : {', '.join(fields)}"])
        yield line, {k: (str(v) if isinstance(v, int | float) and not isinstance(v, bool)
                         else v) for k, v in item.items()}


def _valid_rows(path: str, fields: tuple[str, ...],
                check: Callable[[dict[str, Any]], tuple[list[str], dict[str, Any]]],
                ident: Callable[[dict[str, Any]], str], label: str,
                encoding: str | None = None) -> list[dict[str, Any]]:
    """Every row checked; all problems (with line numbers) raised together, or the rows."""
    parsed, problems = [], []
    seen: dict[str, int] = {}
    for line, row in rows(path, fields, encoding):
        errors, values = check(row)
        key = ident(values)
        if key and key in seen:
            errors.append(f"{label} {key} déjà présent ligne {seen[key]}")
        seen[key] = line
        if errors:
            problems.append(f"ligne {line} : " + " ; ".join(errors))
        else:
            parsed.append(values)
    if problems:
        raise ImportFileError(path, problems)
    return parsed


Check = Callable[[dict[str, Any]], tuple[list[str], dict[str, Any]]]


def _with_lengths(table: Any, check: Check) -> Check:
    """``check``, plus one problem per text longer than its column (named, never quoted)."""
    def checked(row: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        errors, values = check(row)
        return errors + lengths.problems(table, row), values
    return checked


def import_professionals(session: Session, path: str,
                         encoding: str | None = None) -> tuple[int, int]:
    parsed = _valid_rows(path, PROFESSIONAL_FIELDS,
                         _with_lengths(PROFESSIONAL_TABLE, lambda r: (_check_professional(r), r)),
                         lambda v: v.get("rpps") or "", "RPPS", encoding)
    existing = {p.rpps: p for p in session.scalars(select(Professional).where(
        col(Professional.rpps).in_([r["rpps"] for r in parsed])))}
    for row in parsed:
        values = {k: row.get(k) for k in PROFESSIONAL_FIELDS if k != "active"}
        values["active"] = _bool(row.get("active"), True)
        target = existing.get(row["rpps"])
        if target is None:
            session.add(Professional.model_validate(values))
        else:
            for key, value in values.items():
                setattr(target, key, value)
    session.flush()
    return len(parsed) - len(existing), len(existing)


def _check_professional(row: dict[str, Any]) -> list[str]:
    errors = []
    if not re.fullmatch(r"\d{11}", str(row.get("rpps") or "")):
        errors.append(f"RPPS {row.get('rpps')!r} invalide (11 chiffres attendus)")
    for key in ("family_name", "given_names"):
        if not row.get(key):
            errors.append(f"{key} manquant")
    if row.get("profession") not in PROFESSIONS:
        errors.append(f"profession {row.get('profession')!r} inconnue ; possibles : "
                      f"{', '.join(PROFESSIONS)}")
    for key in ("email", "mssante"):
        if row.get(key) and not _EMAIL.match(str(row[key])):
            errors.append(f"{key} {row[key]!r} n'est pas une adresse valide")
    if row.get("phone") and not _PHONE.match(re.sub(r"[ .-]", "", str(row["phone"]))):
        errors.append(f"téléphone {row['phone']!r} invalide (format 0612345678 ou +33612345678)")
    if row.get("active") is not None and _bool(row.get("active"), None) is None:
        errors.append(f"active {row['active']!r} invalide (oui/non, true/false)")
    return errors


def _bool(value: Any, default: bool | None) -> bool | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return {"true": True, "1": True, "oui": True, "yes": True, "false": False, "0": False,
            "non": False, "no": False}.get(str(value).lower())


def import_patients(session: Session, path: str, now: datetime,
                    encoding: str | None = None) -> tuple[int, int]:
    from engine.store.batch import as_of

    today = as_of(now)
    parsed = _valid_rows(path, PATIENT_FIELDS,
                         _with_lengths(PATIENT_TABLE, lambda r: _check_patient(r, today)),
                         lambda v: v.get("ins") or v.get("local_id") or "", "patient", encoding)
    created = updated = 0
    for values in parsed:
        values["created_at"] = now
        column = col(Patient.ins) if values.get("ins") else col(Patient.local_id)
        target = session.scalars(select(Patient).where(
            column == (values.get("ins") or values.get("local_id")))).first()
        if target is None:
            session.add(Patient(**values))
            created += 1
        else:
            for key, value in values.items():
                if key != "created_at":
                    setattr(target, key, value)
            updated += 1
    session.flush()
    return created, updated


def _check_patient(row: dict[str, Any], today: date) -> tuple[list[str], dict[str, Any]]:
    errors: list[str] = []
    values: dict[str, Any] = {k: row.get(k) for k in ("ins", "local_id", "family_name",
                                                     "given_names", "commune")}
    if not values["ins"] and not values["local_id"]:
        errors.append("ins ou local_id requis")
    if values["ins"] and not re.fullmatch(r"[12]\d{12}\d{2}", str(values["ins"])):
        errors.append(f"INS {values['ins']!r} invalide (15 chiffres : NIR et clé)")
    for key in ("family_name", "given_names"):
        if not values[key]:
            errors.append(f"{key} manquant")
    birth = row.get("birth_date")
    try:
        born = birth if isinstance(birth, date) else \
            datetime.strptime(str(birth), "%Y-%m-%d").date()
        if born > today or born.year < 1890:
            errors.append(f"date de naissance {born} impossible")
        values["birth_date"] = born
    except ValueError:
        errors.append(f"date de naissance {birth!r} invalide (format AAAA-MM-JJ)")
    sex = str(row.get("sex") or "").upper()
    if sex not in SEXES:
        errors.append(f"sexe {row.get('sex')!r} invalide ; possibles : {', '.join(SEXES)}")
    values["sex"] = sex
    if values["commune"] and not re.fullmatch(r"\d{5}|2[AB]\d{3}", str(values["commune"])):
        errors.append(f"code commune INSEE {values['commune']!r} invalide (5 caractères)")
    conditions = row.get("conditions") or []
    if isinstance(conditions, str):
        conditions = [c.strip() for c in re.split(r"[;|]", conditions) if c.strip()]
    values["conditions"], values["condition_onsets"] = _conditions(conditions, today, errors)
    ald = _bool(row.get("ald"), None) if row.get("ald") not in (None, "") else None
    if row.get("ald") not in (None, "") and ald is None:
        errors.append(f"ald {row.get('ald')!r} invalide : oui, non ou vide (inconnu)")
    values["ald"] = ald
    return errors, values


def _conditions(items: list[Any], today: date,
                errors: list[str]) -> tuple[list[str], dict[str, str]]:
    """``CODE`` or ``CODE@AAAA-MM-JJ`` (onset date) items → codes and onsets."""
    codes: list[str] = []
    onsets: dict[str, str] = {}
    bad: list[str] = []
    for item in map(str, items):
        code, _, onset = item.partition("@")
        if not re.fullmatch(r"\d{6,18}", code):
            bad.append(item)
            continue
        codes.append(code)
        if onset:
            try:
                day = date.fromisoformat(onset)
            except ValueError:
                errors.append(f"date de début {onset!r} de {code} invalide (format AAAA-MM-JJ)")
                continue
            if day > today:
                errors.append(f"date de début {day} de {code} dans le futur")
            onsets[code] = day.isoformat()
    if bad:
        errors.append(f"codes SNOMED CT invalides : {', '.join(bad)} (chiffres seulement, "
                      "ex. 44054006, ou 44054006@2004-05-01 avec la date de début)")
    return codes, onsets
