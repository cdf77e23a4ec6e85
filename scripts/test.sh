#!/usr/bin/env bash
# Set up a virtual environment (once) and run the whole test suite, lint and type checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
  | grep -v "is ignored: it is neither" || true
# Browser tests drive Debian's Chromium (Playwright's own download does not work here):
# install it when missing and we may (root with apt-get); in CI the tests fail without it.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) \
    >/tmp/parcours-chromium-install.log 2>&1 \
    || echo "chromium could not be installed: see /tmp/parcours-chromium-install.log" >&2
fi
.venv/bin/ruff check engine flows notifications web tests benchmarks
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
