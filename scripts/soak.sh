#!/usr/bin/env bash
# A long hypothesis run that draws new examples every time (CI's profile is derandomized):
#   scripts/soak.sh                       # every property test, "soak" profile, once
#   ROUNDS=5 scripts/soak.sh tests/test_assign.py
# Needs $SSJ_TEST_POSTGRES_URL for the store properties (scripts/pg-throwaway.sh start).
# A failure prints the @reproduce_failure blob to turn into a regression test.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export HYPOTHESIS_PROFILE=soak
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(grep -l "@given" tests/test_*.py)
fi
failed=0
for round in $(seq 1 "${ROUNDS:-1}"); do
  printf '\n==> soak round %s: %s\n' "$round" "${targets[*]}"
  "$PY" -m pytest -q -n 2 -p no:cacheprovider "${targets[@]}" || failed=1
done
exit $failed
