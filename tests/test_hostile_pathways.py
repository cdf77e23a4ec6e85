"""Hostile and broken pathway files: every one is refused or accepted with located
diagnostics, quickly (CPU time of the checking thread, so that a loaded machine does not
make a cheap check look slow), never with a traceback (issue "Hostile and messy input",
reader part).

Table-driven cases with their exact positions, then a deterministic mutation corpus built
from the three CPTS pathways (deleted, duplicated and swapped lines, indentation changes,
control characters, invalid bytes, wrong types, deep nesting, aliases). The corpus size is
``PARCOURS_FUZZ_FILES`` (default 2 000 in the normal suite; the ``nightly`` marker runs more).
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.exceptions import Diagnostic
from engine.pathway import check_file, check_text
from engine.pathway.reader import MAX_ALIASES, MAX_BYTES, MAX_DEPTH

ROOT = Path(__file__).resolve().parents[1]
PATHWAYS = sorted((ROOT / "pathways").glob("*.yaml"))
BASE = (ROOT / "pathways" / "diabete-type2.yaml").read_text(encoding="utf-8")
BASE_LINES = BASE.count("\n")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi",
                                                                  strict=True))


def _one(text: str) -> list[str]:
    """The errors of a text (warnings, e.g. [silent-expiry] on the base pathway, left out)."""
    _, problems = check_text(text, "f.yaml")
    return [str(p) for p in problems if p.is_error]


@pytest.mark.parametrize(("text", "expected"), [
    (BASE.replace("title:", "ti\x00tle:", 1), "f.yaml:8:3: control character U+0000"),
    ("key: x\n\x0ctitle: y\n", "f.yaml:2:1: control character U+000C"),
    ("key: x\ntitle: a\x85b\n", "f.yaml:2:9: control character U+0085"),
    ("key: x\rtitle: y\n", "f.yaml:1:7: control character U+000D"),
    ("key: x\n" + "k: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
     f"f.yaml:2:{MAX_DEPTH + 4}: nesting too deep"),
    ("\n".join(" " * i + f"k{i}:" for i in range(MAX_DEPTH + 10)) + " x\n",
     f"f.yaml:{MAX_DEPTH + 1}:{MAX_DEPTH + 1}: nesting too deep"),
    (BOMB, f"too many aliases (more than {MAX_ALIASES})"),
    ("x" * (MAX_BYTES + 1), "f.yaml:1:1: file too large"),
    (BASE + "\n2026-01-01: x\n", f"f.yaml:{BASE_LINES + 2}:1: key '2026-01-01' is read as a "
                                 "date; write it in quotes"),
    (BASE + "\n2026-13-45: x\n", f"f.yaml:{BASE_LINES + 2}:1: invalid date '2026-13-45'"),
    (BASE + "\nfoo: !bar baz\n", f"f.yaml:{BASE_LINES + 2}:6: unknown YAML tag '!bar'"),
    (BASE + "\n? [a, b]\n: x\n", f"f.yaml:{BASE_LINES + 2}:3: a key must be text"),
], ids=["nul", "form-feed", "nel", "lone-cr", "deep-flow", "deep-block", "alias-bomb",
        "too-large", "timestamp-key", "impossible-date-key", "unknown-tag", "list-key"])
def test_hostile_text_is_refused_at_its_place(text: str, expected: str) -> None:
    started = time.thread_time()
    problems = _one(text)
    assert time.thread_time() - started < 5
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_invalid_bytes_are_located(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("key: x\ntitle: Défaut\n".encode("latin-1"))
    model, problems = check_file(str(path))
    assert model is None
    assert [str(p) for p in problems] == [
        f"{path}:2:9: byte 0xE9 is not UTF-8 text; save the file as UTF-8 [yaml]"]


def test_a_folder_is_not_a_pathway(tmp_path: Path) -> None:
    model, problems = check_file(str(tmp_path))
    assert model is None and "is a folder" in str(problems[0])


def test_a_byte_order_mark_is_accepted() -> None:
    _, problems = check_text("\ufeff" + BASE, "f.yaml")
    assert [p for p in problems if p.is_error] == []


# -- the mutation corpus --------------------------------------------------------------------


def _mutate(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    match rng.randrange(10):
        case 0:
            del lines[i]
        case 1:
            lines.insert(i, lines[i])
        case 2:
            j = min(len(lines) - 1, i + 1)
            lines[i], lines[j] = lines[j], lines[i]
        case 3:
            lines[i] = " " * rng.choice([1, 2, 3, 5]) + lines[i]
        case 4:
            lines[i] = lines[i].lstrip()
        case 5:
            at = rng.randrange(len(lines[i]) + 1)
            char = chr(rng.choice([0, 1, 8, 11, 12, 27, 127, 0x85, 0x2028, 0xFEFF]))
            lines[i] = lines[i][:at] + char + lines[i][at:]
        case 6:
            if ":" in lines[i]:
                head = lines[i].split(":", 1)[0]
                value = rng.choice(["[]", "{}", "42", "true", "~", "[[[", "&x y", "*nope",
                                    "!tag z", "2026-02-30"])
                lines[i] = f"{head}: {value}"
        case 7:
            lines[i] = lines[i].replace(" ", "\t", 1)
        case 8:
            lines.insert(i, "  " * rng.randrange(1, 8) + "k: &a [" + "[" * rng.randrange(80)
                         + "]")
        case _:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return "\n".join(lines)


FILES = int(os.environ.get("PARCOURS_FUZZ_FILES", "2000"))
CHUNKS = 20


def _check_corpus(chunk: int, files: int) -> None:
    sources = [p.read_text(encoding="utf-8") for p in PATHWAYS]
    rng = random.Random(chunk)
    for n in range(files // CHUNKS):
        text = _mutate(rng, rng.choice(sources))
        if rng.random() < 0.3:
            text = _mutate(rng, text)
        sampled = n % 50 == 0  # memory measured on a sample: tracemalloc slows it down
        if sampled:
            tracemalloc.start()
        started = time.thread_time()
        model, problems = check_text(text, f"m{chunk}-{n}.yaml")
        elapsed = time.thread_time() - started
        if sampled:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < 512 * 2**20, f"mutation {chunk}-{n} took {peak >> 20} MiB"
        assert elapsed < 10, f"mutation {chunk}-{n} took {elapsed:.1f} s"
        assert model is not None or problems, f"mutation {chunk}-{n}: refused without a reason"
        lines = text.count("\n") + 2
        for problem in problems:
            assert isinstance(problem, Diagnostic)
            assert 1 <= problem.line <= lines and problem.column >= 1, str(problem)


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_mutated_pathways_never_raise(chunk: int) -> None:
    _check_corpus(chunk, FILES)


@pytest.mark.nightly
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_many_mutated_pathways_never_raise(chunk: int) -> None:
    _check_corpus(100 + chunk, 20 * FILES)


# -- guards with bounded cost -------------------------------------------------------------------


def _with_guard(guard: str) -> str:
    lines = BASE.split("\n")
    i = next(n for n, line in enumerate(lines) if line.strip().startswith("guard:"))
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i] = f'{indent}guard: "{guard}"'
    return "\n".join(lines)


@pytest.mark.parametrize(("guard", "expected"), [
    ("'a' * 300000000 == event.value", "builds a value longer than 10000"),
    ("[0] * 300000000 == event.value", "builds a value longer than 10000"),
    ("300000000 * 'a' == event.value", "builds a value longer than 10000"),
    ("10 ** 10000000 > event.value", "computes a number over 4096 bits"),
    ("'a'.ljust(300000000) == event.value", "builds a value longer than 10000"),
    ("'x'|center(300000000) == event.value", "No filter named 'center'; available filters: "),
    ("'%300000000d' % 1 == event.value", "text formatting with % is not available"),
    ("'{:>300000000}'.format(1) == event.value", "text formatting is not available"),
    ("'x'|random == event.value", "No filter named 'random'"),
])
def test_costly_literal_guards_are_refused_quickly(guard: str, expected: str) -> None:
    import tracemalloc

    tracemalloc.start()
    started = time.thread_time()
    problems = _one(_with_guard(guard))
    elapsed = time.thread_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 5 and peak < 64 * 1024 * 1024
    assert any(expected in p and "[expression-syntax]" in p for p in problems), problems


def test_cheap_arithmetic_still_works() -> None:
    assert _one(_with_guard("2 ** 10 > event.value and 'ab' * 3 != event.unit")) == []


def test_costly_values_built_at_run_time_are_refused() -> None:
    from jinja2.sandbox import SecurityError

    from engine.pathway.expressions import Scope, compile_expression, make_scope

    def scope(n: int) -> Scope:
        return make_scope(params={"n": n}, facts={}, obs={}, patient={}, event={},
                          now=datetime(2026, 1, 1, tzinfo=UTC))

    for source in ("'a' * params.n", "[0] * params.n", "10 ** params.n", "'a' * 9999 + 'b' * 9"):
        expression = compile_expression(source)
        with pytest.raises(SecurityError):
            expression.evaluate(scope(10**8))
    assert compile_expression("'ab' * params.n").evaluate(scope(3)) == "ababab"


def _scope(**params: object):  # type: ignore[no-untyped-def]
    from engine.pathway.expressions import make_scope

    return make_scope(params=params, facts={}, obs={}, patient={}, event={"value": 7.5},
                      now=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("source", [
    "('a' * 10000).replace('a', 'b' * params.n)",
    "'a'.ljust(params.n)",
    "('\\t' * 100).expandtabs(params.n)",
    "([('a' * 10000)] * 10000)|map('upper')|list|length",
    "(('a' * 10000)|list|select('in', 'b' * 10000)|list|length) == 0",
    "([('a' * 10)] * 10000)|join('x' * 1000)",
    "('x' * 1000).join(['a'] * 10000)",
    "[" + ", ".join(["(('a' * 9000)|list|length)"] * 60) + "]|sum",  # cheap alone, not 60
])
def test_costly_work_at_run_time_is_refused_quickly(source: str) -> None:
    """Values built from run-time data cannot be checked by ``validate``: the sandbox stops
    them before they allocate (or once the expression's work budget is spent)."""
    import tracemalloc

    from engine.pathway.expressions import ExpressionCostError, compile_expression

    expression = compile_expression(source)
    started = time.thread_time()
    with pytest.raises(ExpressionCostError):
        expression.evaluate(_scope(n=10**8))
    elapsed = time.thread_time() - started
    tracemalloc.start()
    with pytest.raises(ExpressionCostError):
        expression.evaluate(_scope(n=10**8))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 2 and peak < 64 * 1024 * 1024, (elapsed, peak)


def test_the_budget_is_per_evaluation_and_ordinary_filters_work() -> None:
    from engine.pathway.expressions import compile_expression

    heavy = compile_expression("[" + ", ".join(["(('a' * 9000)|list|length)"] * 30) + "]|sum")
    for _ in range(3):  # ~810 000 units each time: the budget is not shared between calls
        assert heavy.evaluate(_scope()) == 270_000
    cases = {
        "[3, 1, 2]|sort|first": 1, "'Abc'|lower": "abc", "[1, 2, 2]|unique|list|length": 2,
        "['a', 'b']|join(', ')": "a, b", "'7'|int + 1": 8, "(-2)|abs": 2, "[1, 5]|max": 5,
        "[1, 2, 3]|select('odd')|list": [1, 3], "' x '|trim": "x", "'abc'|length": 3,
        "[{'v': 2}, {'v': 1}]|map(attribute='v')|sum": 3, "7 % 3": 1, "'ab' ~ 'c'": "abc",
        "'a-b'.replace('-', '+')": "a+b", "'ab'.upper()": "AB", "event.value|round": 8.0,
    }
    for source, expected in cases.items():
        assert compile_expression(source).evaluate(_scope()) == expected, source


GUARDED = """\
key: cout-garde
version: 1
title: Garde coûteuse
initial: suivi
parameters:
  seuil: {type: number, default: 7.0, unit: "%", description: Seuil}
observations:
  hba1c: {code: 4548-4, title: HbA1c, unit: "%", minimum: 3, maximum: 20}
states:
  suivi:
    transitions:
      - on: observation:hba1c
        guard: "GUARD and event.value > params.seuil"
        to: haut
      - on: observation:hba1c
        to: bas
  haut: {title: Haut, final: true}
  bas: {title: Bas, final: true}
"""
#: fine to validate, over the work budget at every evaluation
COSTLY_GUARD = "(('a' * 10000)|list|select('in', 'b' * 10000)|list|length) == 0"


def test_a_guard_over_budget_refuses_the_event_instead_of_taking_the_other_branch() -> None:
    """Before: the failed guard counted as false and the case went to 'bas' for a value
    above the threshold. Now the event is refused, in French, and the case is unchanged."""
    from datetime import date

    from engine.case import Event, Subject
    from engine.exceptions import GuardCostError
    from engine.pathway import load_text
    from engine.runtime import Runtime

    runtime = Runtime(load_text(GUARDED.replace("GUARD", COSTLY_GUARD)))
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    subject = Subject(birth_date=date(1950, 1, 1), sex="F")
    case = runtime.start(subject, now).case
    with pytest.raises(GuardCostError, match=r"dépasse le coût autorisé .* événement refusé, "
                                             r"dossier inchangé"):
        runtime.apply(case, Event("observation:hba1c", now, value=8.0, unit="%"), subject)
    assert case.active == ("suivi",)
    cheap = Runtime(load_text(GUARDED.replace("GUARD", "true")))
    outcome = cheap.apply(cheap.start(subject, now).case,
                          Event("observation:hba1c", now, value=8.0, unit="%"), subject)
    assert outcome.case.active == ("haut",)


@pytest.mark.parametrize("guard", [
    " + ".join(["event.value"] * 300) + " > 0",
    "(" * 120 + "event.value" + ")" * 120 + " > 0",
    "event.value" + "|abs" * 200 + " > 0",
    "not " * 400 + "event.value",
    "[" * 60 + "]" * 60 + " == event.value",
])
def test_deeply_nested_expressions_are_located_errors(guard: str) -> None:
    problems = _one(_with_guard(guard))
    assert any("nested too deeply" in p and "[expression-syntax]" in p for p in problems), \
        problems
