"""Territory settings: one CPTS's overrides of a pathway's parameters, read and checked.

A settings file is a YAML mapping from parameter names to values, one file per
pathway (``pathways/settings/diabete-type2.yaml``)::

    hba1c_intervalle: P6M          # the parameter's type: an ISO-8601 duration
    age_min: 70                    # an integer within the declared minimum/maximum
    cible_generale: {value: 7.5, unit: "%"}   # a value may name its unit: the declared one

It is read by the same hardened reader as pathways (``engine.pathway.reader``:
no ``on``/``off`` booleans, duplicate keys refused, hostile input refused) and
every key is checked against the pathway's parameter declarations: the name
must be declared (the message lists the allowed names), the value of the
declared type, within ``minimum``/``maximum`` (numbers, or durations compared
by their approximate length in days) and, when a unit is written, in the
declared unit. Every problem is a ``file:line:col: message`` diagnostic.

The *effective parameters* of a case are the pathway version's defaults with
the territory settings version it runs under laid over them
(``effective_parameters``). Nothing here touches the database:
``engine.store.settings`` publishes and versions settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from engine.durations import Duration
from engine.exceptions import Diagnostic, DurationError, SettingsDefinitionError
from engine.pathway.model import Parameter, Pathway
from engine.pathway.reader import Document, YamlReadError, read_file, read_text
from engine.suggest import did_you_mean

if TYPE_CHECKING:
    from engine.pathway.compiler import CompiledPathway

#: keys of the long form of a value: ``{value: 7.5, unit: "%"}``
_LONG_FORM = ("value", "unit")


@dataclass(frozen=True)
class TerritorySettings:
    """Checked overrides of one pathway's parameters (values in their declared type)."""

    pathway: str
    values: Mapping[str, Any]
    file: str = "<string>"
    source: str = ""
    #: where each override is written (line, column), for messages
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """The hash of the values, not of the text: a comment changes no version."""
        return values_hash(self.values)


def values_hash(values: Mapping[str, Any]) -> str:
    canonical = json.dumps(dict(values), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _definition(pathway: Pathway | CompiledPathway) -> Pathway:
    return pathway if isinstance(pathway, Pathway) else pathway.definition


def check_settings_text(text: str, pathway: Pathway | CompiledPathway,
                        file: str = "<string>") -> tuple[TerritorySettings | None,
                                                         list[Diagnostic]]:
    """Every problem of a settings text; the settings when there is none."""
    try:
        doc, problems = read_text(text, file)
    except YamlReadError as exc:
        return None, exc.diagnostics
    return _check(doc, problems, _definition(pathway), text)


def check_settings_file(path: str, pathway: Pathway | CompiledPathway) -> tuple[
        TerritorySettings | None, list[Diagnostic]]:
    try:
        doc, problems = read_file(path)
    except YamlReadError as exc:
        return None, exc.diagnostics
    except OSError as exc:
        return None, [Diagnostic(path, 1, 1, f"lecture impossible : {exc.strerror}", "file")]
    return _check(doc, problems, _definition(pathway), "\n".join(doc.lines))


def load_settings_text(text: str, pathway: Pathway | CompiledPathway,
                       file: str = "<string>") -> TerritorySettings:
    settings, problems = check_settings_text(text, pathway, file)
    if settings is None:
        raise SettingsDefinitionError(problems)
    return settings


def load_settings(path: str, pathway: Pathway | CompiledPathway) -> TerritorySettings:
    """The checked settings of ``path`` or ``SettingsDefinitionError`` with every problem."""
    settings, problems = check_settings_file(path, pathway)
    if settings is None:
        raise SettingsDefinitionError(problems)
    return settings


def _check(doc: Document, problems: list[Diagnostic], pathway: Pathway,
           text: str) -> tuple[TerritorySettings | None, list[Diagnostic]]:
    problems = list(problems)
    declared = pathway.parameters
    allowed = ", ".join(declared) or "aucun"
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        problems.append(doc.diagnostic((), "un fichier de réglages est une liste « paramètre: "
                                       f"valeur » ; paramètres du parcours {pathway.key} : "
                                       f"{allowed}", "settings"))
        return None, sorted(problems)
    values: dict[str, Any] = {}
    for name, raw in data.items():
        parameter = declared.get(str(name))
        if parameter is None:
            problems.append(doc.diagnostic(
                (name,), f"paramètre inconnu {name!r}{_fr(did_you_mean(str(name), declared))} ; "
                f"paramètres du parcours {pathway.key} : {allowed}", "unknown-parameter",
                key=True))
            continue
        value, problem, where = _value(parameter, raw)
        if problem is not None:
            problems.append(doc.diagnostic((name, *where), f"{name} : {problem}", "settings"))
            continue
        values[str(name)] = value
    if any(p.is_error for p in problems):
        return None, sorted(problems)
    positions = {str(k): doc.position((k,), key=True) for k in values}
    return TerritorySettings(pathway.key, values, doc.file, text, positions), sorted(problems)


def _fr(hint: str) -> str:
    """``did_you_mean``'s English hint, in French."""
    return hint.replace("; did you mean", " ; vouliez-vous dire").replace("?", " ?")


def _value(parameter: Parameter, raw: Any) -> tuple[Any, str | None, tuple[str, ...]]:
    """(value, problem, sub-path of the problem) of one override."""
    unit: Any = None
    if isinstance(raw, dict):
        extra = sorted(set(map(str, raw)) - set(_LONG_FORM))
        if extra or "value" not in raw:
            return None, ("forme longue attendue {value: …, unit: …} ; clés inconnues : "
                          f"{', '.join(extra) or 'aucune'}" if extra else
                          "la forme longue demande « value »"), ()
        raw, unit = raw["value"], raw.get("unit")
        if unit is not None and str(unit) != (parameter.unit or ""):
            expected = (f"l'unité déclarée est {parameter.unit!r}" if parameter.unit
                        else "ce paramètre n'a pas d'unité")
            return None, f"unité {unit!r} refusée ; {expected}", ("unit",)
        where: tuple[str, ...] = ("value",)
    else:
        where = ()
    if parameter.type == "date" and isinstance(raw, date):
        raw = raw.isoformat()  # kept as ISO text: the published values are JSON
    problem = check_parameter_value(parameter, raw)
    return (raw, None, ()) if problem is None else (None, problem, where)


_TYPES_FR = {"number": "un nombre", "integer": "un entier", "boolean": "true ou false",
             "duration": "une durée ISO-8601 (P3M, P1Y, P2W, P14D…)", "text": "un texte",
             "choice": "un des choix", "date": "une date AAAA-MM-JJ"}


def check_parameter_value(parameter: Parameter, value: Any) -> str | None:
    """Why ``value`` does not fit ``parameter`` (type, choices, bounds), in French, or None."""
    from engine.pathway.checks import _typecheck

    if parameter.type == "date" and isinstance(value, str) and not _is_iso_date(value):
        return f"valeur attendue : {_TYPES_FR['date']}, pas {value!r}"
    if _typecheck(value, parameter.type, parameter.choices) is not None:
        if parameter.type == "choice" and parameter.choices:
            choices = ", ".join(map(str, parameter.choices))
            return f"{value!r} n'est pas un des choix possibles : {choices}"
        return f"valeur attendue : {_TYPES_FR[parameter.type]}, pas {value!r}"
    return out_of_bounds(parameter, value)


def _is_iso_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def out_of_bounds(parameter: Parameter, value: Any) -> str | None:
    """Why a value is below ``minimum`` or above ``maximum`` (numbers and durations)."""
    low, high = parameter.minimum, parameter.maximum
    if low is None and high is None:
        return None
    if parameter.type in ("number", "integer"):
        size, unit = float(value), f" {parameter.unit}" if parameter.unit else ""
        shown = f"{value}{unit}"
    elif parameter.type == "duration":
        size, shown = Duration.parse(value).approx_days(), str(value)
    else:
        return None
    limits = f"entre {_bound(low, parameter)} et {_bound(high, parameter)}" \
        if low is not None and high is not None else (
            f"au moins {_bound(low, parameter)}" if low is not None
            else f"au plus {_bound(high, parameter)}")
    if (low is not None and size < _size(low, parameter)) or \
            (high is not None and size > _size(high, parameter)):
        return f"{shown} est hors des bornes déclarées : {limits}"
    return None


def _size(bound: float | str, parameter: Parameter) -> float:
    if parameter.type == "duration":
        return Duration.parse(bound).approx_days()
    return float(bound)


def _bound(bound: float | str | None, parameter: Parameter) -> str:
    if isinstance(bound, float | int) and not isinstance(bound, bool):
        return f"{bound:g}" + (f" {parameter.unit}" if parameter.unit else "")
    return str(bound)


def effective_parameters(pathway: Pathway | CompiledPathway,
                         overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The pathway's defaults with ``overrides`` laid over them, every value checked.

    Raises ``SettingsDefinitionError`` when an override does not fit this version of the
    pathway (a parameter it no longer declares, a value now out of bounds).
    """
    definition = _definition(pathway)
    values = {name: p.default for name, p in definition.parameters.items()}
    problems = []
    for name, value in (overrides or {}).items():
        parameter = definition.parameters.get(name)
        problem = (f"paramètre {name!r} non déclaré par cette version du parcours"
                   if parameter is None else check_parameter_value(parameter, value))
        if problem is not None:
            problems.append(Diagnostic(f"{definition.key}@réglages", 1, 1,
                                       f"{name} : {problem}" if parameter else problem,
                                       "settings"))
        values[name] = value
    if problems:
        raise SettingsDefinitionError(problems)
    return values


def is_valid_duration_bound(bound: object) -> bool:
    try:
        Duration.parse(bound)
    except DurationError:
        return False
    return True
