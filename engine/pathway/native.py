"""Plain data → the typed model, with pydantic's errors turned into diagnostics.

Every schema error becomes ``file:line:col: message`` at the offending key or
value, with the allowed keys or the expected type spelled out. When the errors
are only in keys that can be left out (unknown keys, optional values of the
wrong type), the pathway without them is returned too, so that the semantic
checks still report their errors in the same run.
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from engine.exceptions import Diagnostic
from engine.pathway.model import Pathway
from engine.pathway.reader import Document, Path
from engine.suggest import did_you_mean

_TYPE_WORDS = {
    "int_parsing": "an integer", "int_type": "an integer", "float_parsing": "a number",
    "float_type": "a number", "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "a text", "dict_type": "a mapping (key: value)", "list_type": "a list",
    "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
}


def to_model(doc: Document) -> tuple[Pathway | None, list[Diagnostic]]:
    """Validate ``doc.data`` against the model; on errors return every one of them, with
    the partial model (or None) for the checks that can still run on it."""
    if not isinstance(doc.data, dict):
        return None, [doc.diagnostic((), "a pathway file must be a mapping with keys "
                                      + _allowed(Pathway), "schema")]
    try:
        return Pathway.model_validate(doc.data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_translate(doc, err) for err in _without_misspelt_missing(errors)]
        return _partial_model(doc, errors), problems


def _partial_model(doc: Document, errors: list[Any]) -> Pathway | None:
    """The pathway without the optional keys that have errors, when that is valid.

    With it the reference and expression checks still run, so that one run reports
    every error of a file; ``doc.partial`` tells the checks that depend on the left-out
    parts (structure, timers, graph) to stay silent.
    """
    locs = [_clean(err["loc"]) for err in errors]
    if any(err["type"] == "missing" for err in errors) or not all(map(_droppable, locs)):
        return None
    data = copy.deepcopy(doc.data)
    for loc in locs:
        parent = data
        for part in loc[:-1]:
            parent = parent[part]
        parent.pop(loc[-1], None)
    try:
        model = Pathway.model_validate(data)
    except ValidationError:
        return None
    doc.partial = True
    return model


def _droppable(loc: Path) -> bool:
    """Whether leaving out the key at ``loc`` loses nothing other parts refer to: an unknown
    key, or an optional field of a model that does not declare names (roles, tasks…)."""
    model = model_at(loc[:-1]) if loc and "[key]" not in loc else None
    if model is None:
        return False
    field = model.model_fields.get(str(loc[-1]))
    if field is None:
        return True
    declares = get_origin(_unwrap(field.annotation)) is dict and model_at((*loc, "*"))
    return not field.is_required() and not declares


def _without_misspelt_missing(errors: list[Any]) -> list[Any]:
    """Drop "missing 'title'" when the same mapping has an unknown key 'titel' close to it:
    the unknown-key message already says "did you mean 'title'?"."""
    misspelt: set[Path] = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = _clean(err["loc"])
            model = model_at(loc[:-1])
            known = list(model.model_fields) if model else []
            for close in difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6):
                misspelt.add((*loc[:-1], close))
    return [e for e in errors if e["type"] != "missing" or _clean(e["loc"]) not in misspelt]


def _clean(loc: tuple[Any, ...]) -> Path:
    return tuple(p for p in loc if not _is_union_tag(p))


def _translate(doc: Document, err: Any) -> Diagnostic:
    loc = _clean(err["loc"])
    kind = err["type"]
    if kind in ("extra_forbidden", "invalid_key"):
        model = model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = did_you_mean(str(loc[-1]), allowed)
        where = _describe(loc[:-1])
        msg = f"unknown key {loc[-1]!r}{where}{hint}; allowed keys are {', '.join(allowed)}"
        return doc.diagnostic(loc, msg, "unknown-key", key=True)
    if kind == "missing":
        msg = f"missing required key {loc[-1]!r}{_describe(loc[:-1])}{_required(loc[:-1])}"
        return doc.diagnostic(loc[:-1], msg, "missing-key", key=True)
    if kind == "string_pattern_mismatch" or loc[-1:] == ("[key]",):
        return _invalid_name(doc, loc, err["input"])
    expected = _TYPE_WORDS.get(kind)
    if kind == "literal_error":
        expected = "one of " + err["ctx"]["expected"]
    if expected is None:
        msg = f"{_name(loc)}: {err['msg']}"
    else:
        msg = f"{_name(loc)} must be {expected}, got {_show(err['input'])}"
    # a block mapping or list starts on the line after its key, an empty value has no
    # position of its own: point at the key
    return doc.diagnostic(loc, msg, "type", key=isinstance(err["input"], dict | list | None))


def _invalid_name(doc: Document, loc: Path, name: Any) -> Diagnostic:
    if loc[-1:] != ("[key]",):  # the pathway's own key (the only patterned value)
        return doc.diagnostic(loc, f"invalid {_name(loc)} {name!r}: use lowercase letters, "
                              "digits and '-', starting with a letter or digit", "type")
    # an invalid mapping key (state, task, role… name): point at the key itself
    msg = (f"invalid name {name!r} in {_name(loc[:-2])}: use lowercase letters, digits and "
           "'_', starting with a letter")
    return doc.diagnostic(loc[:-1], msg, "type", key=True)


def _required(loc: Path) -> str:
    model = model_at(loc)
    if model is None:
        return ""
    required = [name for name, f in model.model_fields.items() if f.is_required()]
    return f"; required keys are {', '.join(required)}"


def _is_union_tag(part: object) -> bool:
    # pydantic adds the member type name (e.g. 'str', 'function-after[...]') to union locations
    return isinstance(part, str) and (part in {"str", "int", "float", "bool"}
                                      or ("[" in part and part != "[key]"))


def _show(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _name(loc: Path) -> str:
    named = [str(p) for p in loc if isinstance(p, str) and p != "[key]"]
    return f"'{named[-1]}'" if named else "the document"


def _describe(loc: Path) -> str:
    model = model_at(loc)
    if model is None or model is Pathway:
        return " at the top level" if not loc else ""
    return f" in {model.__name__.lower()} '{'.'.join(str(p) for p in loc)}'"


def _allowed(model: type[BaseModel]) -> str:
    return ", ".join(sorted(model.model_fields))


def model_at(loc: Path) -> type[BaseModel] | None:
    """The model class that validates the value at ``loc`` (None for non-models)."""
    current: Any = Pathway
    parts = list(loc)
    while parts:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(parts.pop(0)))
            if field is None:
                return None
            current = field.annotation
            continue
        origin = get_origin(current)
        if origin in (dict, list):
            parts.pop(0)
            current = get_args(current)[-1]
            continue
        return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Annotated wrappers down to the model or container type."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            models = [m for m in members if get_origin(m) in (dict, list)
                      or (isinstance(m, type) and issubclass(m, BaseModel))]
            annotation = models[0] if models else members[0]
        else:
            return annotation
