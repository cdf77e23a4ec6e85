#!/usr/bin/env bash
# Set up a virtual environment (once) and run the main job on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 \
  | grep -v "is ignored: it is neither" || true
exec .venv/bin/parcours demo "$@"
