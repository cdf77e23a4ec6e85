"""Lazy imports: ``parcours --help`` and ``parcours validate`` load only what they use."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "sqlmodel", "prefect", "fastapi", "uvicorn", "psycopg", "alembic",
         "faker", "rich")

PROBE = """
import contextlib, io, json, sys
import flows.cli
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = flows.cli.main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def loaded(*argv: str) -> tuple[int, str, set[str]]:
    """Exit code, output and top-level packages imported by ``parcours ARGV``."""
    result = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=True)
    data = json.loads(result.stdout.splitlines()[-1])
    return data["code"], data["out"], set(data["modules"])


def test_help_loads_neither_the_database_nor_prefect_nor_pydantic() -> None:
    code, out, modules = loaded("--help")
    assert code == 0 and "validate" in out and "demo" in out
    assert not modules & {*HEAVY, "pydantic", "pydantic_settings", "jinja2", "yaml"}, \
        sorted(modules & {*HEAVY, "pydantic", "pydantic_settings", "jinja2", "yaml"})


@pytest.mark.parametrize("path", ["pathways/", "tests/data/broken"])
def test_validate_loads_no_database_no_prefect_no_web(path: str) -> None:
    code, out, modules = loaded("validate", path)
    assert code in (0, 1) and out  # broken files: exit 1 with file:line:col messages
    assert "yaml" in modules  # it did read the files
    assert not modules & {*HEAVY, "pydantic_settings"}, sorted(modules & set(HEAVY))
