"""The pathway language: read → model → check → compile, one module per stage.

- ``reader``: YAML text → plain data with the line/column of every node;
- ``model``: the typed, immutable definition (pydantic), source of the JSON Schema;
- ``native``: plain data → model, schema errors translated to diagnostics;
- ``checks``: named semantic checks (references, graph, expressions, durations);
- ``expressions``: the sandboxed guard language;
- ``compiler``: definition → ``CompiledPathway`` (one shared ``transitions`` machine);
- ``loader``: the facade used by everything else;
- beside the pipeline: ``settings`` (a territory's parameter overrides, checked against
  the declarations) and ``diff`` (what changes between two versions of a pathway).
"""

from engine.pathway.loader import check_file, check_text, load_file, load_text

__all__ = ["check_file", "check_text", "load_file", "load_text"]
