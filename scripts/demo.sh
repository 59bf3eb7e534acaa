#!/usr/bin/env bash
# Set up a virtualenv with brownout and run the demo: pytest --chaos over the shipped reference
# systems, offline from their cassettes; prints a summary and the report's path.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
exec .venv/bin/brownout demo "$@"
