#!/usr/bin/env bash
# Set up a virtual environment (once) and run the whole test suite, lint and type checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
  | grep -v "is ignored: it is neither" || true
.venv/bin/ruff check engine flows notifications web tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
