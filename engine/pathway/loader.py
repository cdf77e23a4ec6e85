"""The facade: a file or a text in, diagnostics or a compiled pathway out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.exceptions import Diagnostic, PathwayDefinitionError
from engine.pathway.checks import run_checks
from engine.pathway.model import Pathway
from engine.pathway.native import to_model
from engine.pathway.reader import Document, YamlReadError, read_file, read_text

if TYPE_CHECKING:
    from engine.pathway.compiler import CompiledPathway


def _check(read: tuple[Document, list[Diagnostic]]) -> tuple[Pathway | None, list[Diagnostic]]:
    """The model when no problem is an error (warnings do not refuse a file), and every
    problem, errors and warnings."""
    doc, problems = read
    model, schema_problems = to_model(doc)
    problems = problems + schema_problems
    if model is not None:
        problems += run_checks(model, doc)
    usable = not any(p.is_error for p in problems)
    return (model if usable else None), sorted(set(problems))


def _errors(problems: list[Diagnostic]) -> list[Diagnostic]:
    """What refuses a file (warnings are for ``parcours validate``)."""
    return [p for p in problems if p.is_error]


def check_text(text: str, file: str = "<string>") -> tuple[Pathway | None, list[Diagnostic]]:
    """Every problem of a pathway text; the model when none is an error."""
    try:
        return _check(read_text(text, file))
    except YamlReadError as exc:
        return None, exc.diagnostics


def check_file(path: str) -> tuple[Pathway | None, list[Diagnostic]]:
    try:
        return _check(read_file(path))
    except YamlReadError as exc:
        return None, exc.diagnostics
    except OSError as exc:
        return None, [Diagnostic(path, 1, 1, f"cannot read file: {exc.strerror}", "file")]


def load_text(text: str, file: str = "<string>") -> CompiledPathway:
    """Compile a pathway text or raise ``PathwayDefinitionError`` with every problem."""
    from engine.pathway.compiler import compile_pathway

    model, problems = check_text(text, file)
    if model is None:
        raise PathwayDefinitionError(_errors(problems))
    return compile_pathway(model, source=text)


def load_file(path: str) -> CompiledPathway:
    from engine.pathway.compiler import compile_pathway

    model, problems = check_file(path)
    if model is None:
        raise PathwayDefinitionError(_errors(problems))
    with open(path, encoding="utf-8") as handle:
        return compile_pathway(model, source=handle.read())
