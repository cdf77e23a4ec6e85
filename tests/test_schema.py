"""The JSON Schema shipped for editors: up to date, valid, and agreeing with the checker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.pathway import schema
from engine.pathway.reader import read_file, read_text
from flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "pathways" / "examples" / "exemple-suivi.yaml"
VALID = [EXAMPLE, *sorted((ROOT / "tests" / "data" / "valid").glob("*.yaml"))]


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema.shipped()))


def _data(path: Path) -> Any:
    doc, problems = read_file(str(path))
    assert problems == []
    return doc.data


def test_shipped_schema_is_up_to_date() -> None:
    assert schema.shipped() == schema.render(), (
        "engine/pathway/pathway.schema.json is stale: run python -m engine.pathway.schema")


def test_schema_command_prints_the_shipped_schema_as_json(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(schema.shipped())
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(json.loads(schema.shipped()))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_schema_accepts_valid_pathways(path: Path, validator: Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(_data(path))]
    assert errors == []


def test_schema_rejects_an_unknown_key(validator: Draft202012Validator) -> None:
    data = _data(ROOT / "tests" / "data" / "broken" / "unknown-key-nested.yaml")
    errors = list(validator.iter_errors(data))
    assert len(errors) == 1
    assert errors[0].validator == "additionalProperties"
    assert "'transitons' was unexpected" in errors[0].message
    assert list(errors[0].absolute_path) == ["states", "debut"]


def test_schema_rejects_a_wrong_type(validator: Draft202012Validator) -> None:
    data = _data(ROOT / "tests" / "data" / "broken" / "wrong-type-parallel.yaml")
    errors = list(validator.iter_errors(data))
    assert [list(e.absolute_path) for e in errors] == [["states", "debut", "parallel"]]


def test_schema_rejects_an_invalid_state_name(validator: Draft202012Validator) -> None:
    doc, _ = read_text(EXAMPLE.read_text(encoding="utf-8"))
    doc.data["states"]["Sorti"] = doc.data["states"].pop("sorti")
    assert not validator.is_valid(doc.data)
