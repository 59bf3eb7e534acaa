#!/usr/bin/env bash
# Set up brownout's two test environments, then lint, type-check and run the tests in both.
#   .venv          the openai SDK 3.x over httpx2, the OpenAI Agents SDK and LangGraph (test extra)
#   .venv-openai2  the openai SDK 2.x over httpx, with CrewAI, which pins openai<3 (test-openai2 extra)
# Usage: bash scripts/test.sh [extra pytest args]   (BROWNOUT_OPENAI2=0 skips the second environment)
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

rc2=0
if [ "${BROWNOUT_OPENAI2:-1}" != 0 ]; then
  echo "== .venv-openai2: the openai SDK 2.x over httpx, with CrewAI"
  started=$SECONDS
  if [ ! -x .venv-openai2/bin/python ]; then
    "$PY" -m venv .venv-openai2
  fi
  .venv-openai2/bin/python -m pip install -q --upgrade pip
  .venv-openai2/bin/python -m pip install -q -e '.[test-openai2]'
  echo "   installed in $((SECONDS - started)) s"
  echo "== pytest (.venv-openai2)"
  # Every tier that touches the LLM stack; tests/precision (checker logic, transport-agnostic, the
  # slowest tier) runs in .venv only. Arguments given to this script replace the list.
  if [ "$#" -eq 0 ]; then
    set -- tests/unit tests/internals tests/plugin tests/adapters tests/reference_systems tests/security
    reset_args=1
  fi
  set +e
  .venv-openai2/bin/python -m pytest -n 2 -p no:cacheprovider "$@"
  rc2=$?
  set -e
  if [ "${reset_args:-0}" = 1 ]; then
    set --
  fi
  echo "   .venv-openai2 took $((SECONDS - started)) s in all (exit $rc2)"
fi

echo "== pytest (.venv)"
set +e
.venv/bin/python -m pytest -n 2 "$@"
rc=$?
set -e
if [ "$rc" -eq 0 ] && [ "$rc2" -ne 0 ]; then
  echo "the suite failed in .venv-openai2 (exit $rc2; see above)" >&2
  # pytest's exit 5 (no tests collected) stays 5, so .ci/run can tell it apart
  exit "$rc2"
fi
exit "$rc"
