#!/usr/bin/env bash
# Set up a virtual environment (once) and run the whole test suite, lint and type checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 \
  | grep -v "is ignored: it is neither" || true
# Browser tests drive Debian's Chromium (Playwright's own download does not work here) and the
# graph tests check our DOT output with graphviz: install what is missing when we may (root
# with apt-get); in CI (CI=true) the tests fail, not skip, without them.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dot >/dev/null || missing+=(graphviz)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}") \
    >/tmp/parcours-apt-install.log 2>&1 \
    || echo "could not install ${missing[*]}: see /tmp/parcours-apt-install.log" >&2
fi
.venv/bin/ruff check engine flows notifications web tests benchmarks
.venv/bin/mypy
# two workers (the machine has two cores); each has its own PostgreSQL database and Prefect home
exec .venv/bin/python -m pytest -n 2 "$@"
