"""The JSON Schema of the pathway language, generated from the model and shipped.

Editors use it for completion and red squiggles, so it must reject what the
checker rejects at the schema stage: unknown keys, wrong types, and names
(states, tasks, roles…) that are not lowercase identifiers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from engine.pathway.model import Pathway

SCHEMA_FILE = Path(__file__).with_name("pathway.schema.json")


class _PathwaySchema(GenerateJsonSchema):
    """Pydantic's generator, except that a mapping whose keys have a pattern accepts
    no other key (pydantic leaves ``additionalProperties`` open)."""

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        json_schema = super().dict_schema(schema)
        if "patternProperties" in json_schema:
            json_schema.setdefault("additionalProperties", False)
        return json_schema


def generate() -> dict[str, Any]:
    schema = Pathway.model_json_schema(schema_generator=_PathwaySchema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Parcours pathway"
    return schema


def render() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


def shipped() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


if __name__ == "__main__":  # regenerate: python -m engine.pathway.schema
    SCHEMA_FILE.write_text(render(), encoding="utf-8")
