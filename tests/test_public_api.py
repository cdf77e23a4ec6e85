"""The public API is what we mean it to be: names exported, exception tree, import costs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import engine
import engine.exceptions as exceptions
import engine.pathway
import engine.store
import engine.store.exceptions as store_exceptions
from engine.exceptions import ParcoursError

ROOT = Path(__file__).resolve().parents[1]


# -- engine.pathway -------------------------------------------------------------------------------


def test_engine_pathway_exports_exactly_the_facade() -> None:
    assert sorted(engine.pathway.__all__) == ["check_file", "check_text", "load_file",
                                              "load_text"]
    namespace: dict[str, object] = {}
    exec("from engine.pathway import *", namespace)
    assert sorted(k for k in namespace if not k.startswith("__")) == sorted(
        engine.pathway.__all__)
    for name in engine.pathway.__all__:
        function = getattr(engine.pathway, name)
        assert callable(function)
        assert function.__module__ == "engine.pathway.loader"


def test_the_facade_loads_and_checks(tmp_path: Path) -> None:
    example = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
    text = example.read_text(encoding="utf-8")
    assert engine.pathway.load_file(str(example)).key == "exemple-suivi"
    assert engine.pathway.load_text(text).version == 1
    model, problems = engine.pathway.check_text(text)
    # the example ignores HbA1c results in some states, drops a podiatry session on a
    # timer: warnings, not errors
    assert model is not None and not [p for p in problems if p.is_error]
    assert {p.check for p in problems} <= {"unhandled-observation", "silent-expiry"}
    model, problems = engine.pathway.check_file(str(tmp_path / "absent.yaml"))
    assert model is None and len(problems) == 1
    with pytest.raises(exceptions.PathwayDefinitionError, match="missing required key"):
        engine.pathway.load_text("key: x\n")


# -- the exception tree ---------------------------------------------------------------------------


def _exception_classes(module: object) -> list[type[BaseException]]:
    return [obj for _, obj in inspect.getmembers(module, inspect.isclass)
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__]  # type: ignore[attr-defined]


EXCEPTIONS = _exception_classes(exceptions)
STORE_EXCEPTIONS = _exception_classes(store_exceptions)
TREES = [(exceptions, EXCEPTIONS), (store_exceptions, STORE_EXCEPTIONS)]


def test_the_tree_has_the_documented_classes() -> None:
    assert {cls.__name__ for cls in EXCEPTIONS} == {
        "ParcoursError", "PathwayError", "PathwayDefinitionError", "ExpressionError",
        "EvaluationError", "DurationError", "RuntimeEventError", "UnknownEventError",
        "ClosedCaseError", "InvalidEventDataError", "TimelineError", "UnitError",
        "GuardCostError"}


def test_the_store_tree_has_the_documented_classes() -> None:
    assert {cls.__name__ for cls in STORE_EXCEPTIONS} == {
        "StoreError", "InputError", "NotFoundError", "ImportFileError",
        "ConcurrentUpdateError", "TransientStoreError"}


@pytest.mark.parametrize("cls", EXCEPTIONS + STORE_EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_every_exception_is_a_parcours_error(cls: type[BaseException]) -> None:
    assert issubclass(cls, ParcoursError)
    assert isinstance(cls.retryable, bool)  # type: ignore[attr-defined]
    assert cls.__doc__, f"{cls.__name__} has no docstring"


@pytest.mark.parametrize("cls", EXCEPTIONS + STORE_EXCEPTIONS, ids=lambda cls: cls.__name__)
def test_every_exception_is_drawn_in_the_module_docstring(cls: type[BaseException]) -> None:
    tree = sys.modules[cls.__module__].__doc__ or ""
    assert f" {cls.__name__} " in tree


@pytest.mark.parametrize(("module", "found"), TREES, ids=lambda m: getattr(m, "__name__", ""))
def test_the_docstring_draws_the_real_hierarchy(module: object,
                                                found: list[type[BaseException]]) -> None:
    """Each class sits under its real parent in the drawing (indentation gives depth)."""
    tree = (getattr(module, "__doc__", None) or "").split("::", 1)[1]
    stack: list[tuple[int, str]] = []
    classes = {cls.__name__: cls for cls in found}
    for line in tree.splitlines():
        name = line.replace("│", " ").replace("├──", "   ").replace("└──", "   ").split()
        if not name or name[0] not in classes:
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            assert classes[stack[-1][1]] in classes[name[0]].__bases__, name[0]
        stack.append((depth, name[0]))
    assert len(stack) >= 2


def test_errors_build_their_own_messages() -> None:
    unknown = exceptions.UnknownEventError("x", ["a", "b"])
    assert (unknown.event, unknown.allowed) == ("x", ["a", "b"])
    assert str(unknown) == "unknown event 'x'; this pathway knows: a, b"
    duration = exceptions.DurationError("P3X")
    assert duration.text == "P3X" and "P3M" in str(duration)
    assert isinstance(duration, ValueError)
    failed = exceptions.EvaluationError("facts.n + 1", TypeError("boom"), "fact 'n'")
    assert str(failed) == "fact 'n': expression 'facts.n + 1' failed: TypeError: boom"
    diagnostic = exceptions.Diagnostic("f.yaml", 3, 7, "wrong", "check")
    definition = exceptions.PathwayDefinitionError([diagnostic])
    assert str(definition) == "f.yaml:3:7: wrong [check]"
    assert definition.diagnostics == [diagnostic]


def test_the_store_facade_exports_what_it_names() -> None:
    assert "CaseService" in engine.store.__all__ and "InputError" in engine.store.__all__
    for name in engine.store.__all__:
        assert getattr(engine.store, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        engine.store.nope  # noqa: B018


def test_the_store_is_walked_by_these_tests() -> None:
    walked = _engine_modules()
    assert {"engine.store.service", "engine.store.writer", "engine.store.exceptions",
            "engine.store.inbox"} <= set(walked)


def _engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")
                  if ".migrations" not in m.name)


@pytest.mark.parametrize("module", _engine_modules())
def test_every_exception_class_of_the_engine_is_a_parcours_error(module: str) -> None:
    loaded = importlib.import_module(module)
    strays = [cls.__name__ for cls in _exception_classes(loaded)
              if not issubclass(cls, ParcoursError)]
    assert strays == []


# -- what importing costs -------------------------------------------------------------------------


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return {line.split(".")[0] for line in done.stdout.splitlines()}


def test_the_engine_never_imports_prefect_the_cli_or_notifications() -> None:
    code = "\n".join(f"import {m}" for m in _engine_modules())
    loaded = _modules_after(code)
    assert not loaded & {"prefect", "flows", "notifications"}


def test_validate_does_not_import_prefect() -> None:
    example = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
    code = f"from flows.cli import main\nmain(['validate', '-q', {str(example)!r}])"
    loaded = _modules_after(code)
    assert "prefect" not in loaded
    assert "transitions" not in loaded     # checking a file does not compile it
