#!/usr/bin/env bash
# Set up a virtualenv with brownout and its test extra, then lint, type-check and run the tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "== ruff"
.venv/bin/ruff check harness faults judges scenarios tests
.venv/bin/ruff format --check harness faults judges scenarios tests
echo "== import-linter (layers, public faces, no cycles: .importlinter)"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/python -m pytest -n 2 "$@"
