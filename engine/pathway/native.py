"""Plain data → the typed model, with pydantic's errors turned into diagnostics.

Every schema error becomes ``file:line:col: message`` at the offending key or
value, with the allowed keys or the expected type spelled out.
"""

from __future__ import annotations

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
    """Validate ``doc.data`` against the model; on errors return every one of them."""
    if not isinstance(doc.data, dict):
        return None, [doc.diagnostic((), "a pathway file must be a mapping with keys "
                                      + _allowed(Pathway), "schema")]
    try:
        return Pathway.model_validate(doc.data), []
    except ValidationError as exc:
        return None, [_translate(doc, err) for err in exc.errors(include_url=False)]


def _translate(doc: Document, err: Any) -> Diagnostic:
    loc: Path = tuple(p for p in err["loc"] if not _is_union_tag(p))
    kind = err["type"]
    if kind == "extra_forbidden":
        model = model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = did_you_mean(str(loc[-1]), allowed)
        where = _describe(loc[:-1])
        msg = f"unknown key {loc[-1]!r}{where}{hint}; allowed keys are {', '.join(allowed)}"
        return doc.diagnostic(loc, msg, "unknown-key", key=True)
    if kind == "missing":
        model = model_at(loc[:-1])
        msg = f"missing required key {loc[-1]!r}{_describe(loc[:-1])}"
        return doc.diagnostic(loc[:-1], msg, "missing-key", key=True)
    if kind == "string_pattern_mismatch":
        msg = (f"invalid name {err['input']!r} for {_name(loc)}: use lowercase letters, digits "
               "and '_' (or '-' for the pathway key), starting with a letter")
        # an invalid mapping key: point at the key itself
        return doc.diagnostic(loc[:-1] if loc and loc[-1] == "[key]" else loc,
                              msg, "type", key=True)
    expected = _TYPE_WORDS.get(kind)
    if kind == "literal_error":
        expected = "one of " + err["ctx"]["expected"]
    if expected is None:
        msg = f"{_name(loc)}: {err['msg']}"
    else:
        msg = f"{_name(loc)} must be {expected}, got {_show(err['input'])}"
    return doc.diagnostic(loc, msg, "type")


def _is_union_tag(part: object) -> bool:
    # pydantic adds the member type name (e.g. 'str', 'function-after[...]') to union locations
    return isinstance(part, str) and (part in {"str", "int", "float", "bool"}
                                      or ("[" in part and part != "[key]"))


def _show(value: Any) -> str:
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
