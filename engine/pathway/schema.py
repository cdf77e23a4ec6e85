"""The JSON Schema of the pathway language, generated from the model and shipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.pathway.model import Pathway

SCHEMA_FILE = Path(__file__).with_name("pathway.schema.json")


def generate() -> dict[str, Any]:
    schema = Pathway.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Parcours pathway"
    return schema


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def shipped() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate: python -m engine.pathway.schema
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
