"""One word for one thing: event kinds, outbox kinds and channel names are spelled out only
in the module that owns them (``engine/events.py``, ``engine/outbox.py``,
``notifications/channels/registry.py``); everywhere else they are imported.

An AST scan of every production module. A vocabulary word is allowed outside its owner only
where it is *data*, not vocabulary: a key of a dict literal or a subscript (``row["email"]``,
a column or field name), a ``Literal[...]`` type, or a docstring. Words that also name other
things (``observation`` is a table; ``mssante`` is an address column; ``task_completed`` and
``task_cancelled`` are also history kinds owned by ``engine/case.py``) are checked where they
are used as a kind: compared with ``==``/``!=``/``in``. Not scanned: ``event`` (the inbox kind
of a pathway event is also the guards' ``event`` name) and ``email``/``sms`` (also the two
media of ``notifications.channels.base.Medium``): the scan cannot tell those meanings apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine import events, outbox
from notifications.channels import registry

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "notifications", "flows", "web")

EVENT_OWNER = "engine/events.py"
OUTBOX_OWNER = "engine/outbox.py"
CHANNEL_OWNER = "notifications/channels/registry.py"
HISTORY_OWNER = "engine/case.py"   # history (effect) kinds share two words with the others

#: word → the modules allowed to spell it out anywhere.
EVERYWHERE: dict[str, set[str]] = {
    **{w: {EVENT_OWNER} for w in events.HOSPITAL_EVENTS},
    **{w: {OUTBOX_OWNER} for w in outbox.TEMPLATES
       if w not in (outbox.TASK_CANCELLED,)},
    **{w: {CHANNEL_OWNER} for w in (registry.WEBHOOK, registry.CONSOLE)},
}
#: word → owners, checked only where the word is compared (it has other meanings).
COMPARED: dict[str, set[str]] = {
    events.OBSERVATION: {EVENT_OWNER}, events.TIMER: {EVENT_OWNER},
    events.TASK_COMPLETED: {EVENT_OWNER, HISTORY_OWNER},
    outbox.TASK_CANCELLED: {OUTBOX_OWNER, HISTORY_OWNER},
    registry.MSSANTE: {CHANNEL_OWNER},
}
#: ``observation:…``, ``task_completed:…``, ``timer:…`` event names built by hand.
PREFIXES = tuple(f"{kind}:" for kind in events.KINDS)


def _modules() -> list[Path]:
    found = []
    for package in PACKAGES:
        base = ROOT / package
        if base.is_dir():
            found += [p for p in base.rglob("*.py") if "migrations" not in p.parts]
    return sorted(found)


def _data_positions(tree: ast.AST) -> set[int]:
    """ids of constants that are data: dict keys, subscripts, Literal[...] args, docstrings."""
    data: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            data |= {id(k) for k in node.keys if k is not None}
        elif isinstance(node, ast.Subscript):
            literal = isinstance(node.value, ast.Name) and node.value.id == "Literal"
            if literal or isinstance(node.slice, ast.Constant):
                data |= {id(n) for n in ast.walk(node.slice)}
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            data.add(id(node.value))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("get", "pop", "setdefault") and node.args:
            data.add(id(node.args[0]))
    return data


def _compared(tree: ast.AST) -> set[int]:
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                out |= {id(n) for n in ast.walk(operand) if isinstance(n, ast.Constant)}
    return out


def strays(path: Path, root: Path = ROOT) -> list[str]:
    rel = path.relative_to(root).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    data, compared = _data_positions(tree), _compared(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        word = node.value
        owners = None
        if word in EVERYWHERE and id(node) not in data:
            owners = EVERYWHERE[word]
        elif word in COMPARED and id(node) in compared:
            owners = COMPARED[word]
        elif word.startswith(PREFIXES) and id(node) not in data:
            owners = {EVENT_OWNER}
        if owners is not None and rel not in owners:
            found.append((node.lineno, f"{rel}:{node.lineno}: {word!r} "
                                       f"(import it from {sorted(owners)[0]})"))
    return [text for _, text in sorted(found)]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_vocabulary_word_is_spelled_out_outside_its_owner(path: Path) -> None:
    assert strays(path) == []


def test_the_scan_sees_a_stray(tmp_path: Path) -> None:
    bad = tmp_path / "flows" / "probe.py"
    bad.parent.mkdir()
    bad.write_text('def f(kind):\n    return kind == "admission" or kind == "mssante"\n'
                   'X = "observation:hba1c"\nY = {"mssante": 1, "console": 2}\n'
                   'Z = "task_overdue"\n', encoding="utf-8")
    assert strays(bad, tmp_path) == [
        "flows/probe.py:2: 'admission' (import it from engine/events.py)",
        "flows/probe.py:2: 'mssante' (import it from notifications/channels/registry.py)",
        "flows/probe.py:3: 'observation:hba1c' (import it from engine/events.py)",
        "flows/probe.py:5: 'task_overdue' (import it from engine/outbox.py)"]
