#!/usr/bin/env bash
# The whole test suite, as the README gives it: lint, types, tests on SQLite and on a real
# PostgreSQL, the docs build and the examples.
#   scripts/test.sh            # everything
#   scripts/test.sh -k pools   # extra arguments go to pytest
# Installs the package with its test and docs extras into the current Python environment.
# Uses the PostgreSQL server in $SSJ_TEST_POSTGRES_URL, or starts a throw-away one on
# 127.0.0.1 (installing PostgreSQL with apt-get if it is missing) and stops it afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

step() { printf '\n==> %s\n' "$*"; }

if [ "${SSJ_SKIP_INSTALL:-0}" != 1 ]; then
  step "installing shuangsuiji with its dev extras"
  "$PY" -m pip install -q -e ".[dev]" || exit 1
fi

started_pg=""
if [ -z "${SSJ_TEST_POSTGRES_URL:-}" ]; then
  step "starting a throw-away PostgreSQL on 127.0.0.1"
  pg_env=$(scripts/pg-throwaway.sh start) || { echo "could not start PostgreSQL" >&2; exit 1; }
  eval "$pg_env"
  started_pg=$SSJ_PG_DIR
  trap 'scripts/pg-throwaway.sh stop "$started_pg"' EXIT
fi
export SSJ_TEST_POSTGRES_URL SSJ_REQUIRE_POSTGRES=1
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}

failed=0
step "ruff"
"$PY" -m ruff check src tests benchmarks examples docs || failed=1
"$PY" -m ruff format --check src tests benchmarks examples docs || failed=1
step "mypy --strict"
"$PY" -m mypy || failed=1
step "import contracts (lint-imports: floors, a core without adapters, no circles)"
"$PY" -c 'import sys; from importlinter.cli import lint_imports_command as lint_imports
sys.exit(lint_imports())' || failed=1
step "pytest (SQLite and PostgreSQL)"
"$PY" -m pytest -n 2 --doctest-modules --doctest-glob="*.md" src/shuangsuiji tests docs "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  failed=1
elif [ $rc -ne 0 ]; then
  failed=1
fi
if [ -f mkdocs.yml ]; then
  step "docs (mkdocs build --strict; any message beyond the build's own progress fails)"
  docs_log=$(mktemp)
  NO_MKDOCS_2_WARNING=1 "$PY" -m mkdocs build --strict -d "$(mktemp -d)/site" 2>&1 | tee "$docs_log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || failed=1
  if grep -Ev '^INFO +- +(Cleaning site directory|Building documentation to directory|Documentation built in)' "$docs_log" | grep -q .; then
    echo "mkdocs printed warnings or notices (above): fix them" >&2
    failed=1
  fi
  rm -f "$docs_log"
fi
if [ $failed -ne 0 ]; then
  step "FAILED"
  exit 1
fi
step "all checks passed"
