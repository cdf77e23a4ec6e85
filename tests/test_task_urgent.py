"""``urgent: true`` on a task: in the model, the shipped JSON Schema, and checked."""

from __future__ import annotations

import json
from pathlib import Path

import engine.pathway
from engine.pathway import schema

EXAMPLE = Path(__file__).resolve().parents[1] / "pathways" / "examples" / "exemple-suivi.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")
ANCHOR = "    escalation: P30D\n"


def test_a_task_may_be_declared_urgent_and_is_not_by_default() -> None:
    marked = engine.pathway.load_text(TEXT.replace(ANCHOR, ANCHOR + "    urgent: true\n", 1))
    tasks = marked.definition.tasks
    assert tasks["bilan_initial"].urgent is True
    assert not any(t.urgent for key, t in tasks.items() if key != "bilan_initial")


def test_urgent_must_be_a_boolean() -> None:
    _, problems = engine.pathway.check_text(TEXT.replace(ANCHOR, ANCHOR + "    urgent: soon\n",
                                                         1))
    assert problems and "urgent" in str(problems[0])


def test_the_shipped_schema_documents_urgent() -> None:
    task = json.loads(schema.shipped())["$defs"]["Task"]["properties"]["urgent"]
    assert task["type"] == "boolean" and task["default"] is False
    assert "digest" in task["description"]
