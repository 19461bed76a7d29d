#!/usr/bin/env bash
# `bash scripts/fuzz.sh`: the parser fuzz tests (src/fuzz/*.fuzz.test.ts) for a long run. Each round
# runs every property FUZZ_RUNS times (default 3000; `vitest run` uses a few hundred) from a new
# seed, until FUZZ_SECONDS (default 300) have passed or a property fails. A failure prints its
# round's seed and fast-check's counterexample; rerun it with
#   FUZZ_SEED=<seed> FUZZ_RUNS=<runs> npx vitest run fuzz.test
# The seed of the first round can be fixed with FUZZ_SEED; later rounds count up from it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules

seconds=${FUZZ_SECONDS:-300}
export FUZZ_RUNS=${FUZZ_RUNS:-3000}
seed=${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}
count_file=$(mktemp)
trap 'rm -f "$count_file"' EXIT
export FUZZ_COUNT_FILE=$count_file

start=$SECONDS
rounds=0
failed=0
while (( SECONDS - start < seconds )); do
  rounds=$((rounds + 1))
  echo "fuzz: round $rounds, FUZZ_SEED=$seed FUZZ_RUNS=$FUZZ_RUNS"
  # No per-test time limit: a round of thousands of cases takes minutes; each case is still timed.
  if ! FUZZ_SEED=$seed npx --no-install vitest run fuzz.test --testTimeout=0 --reporter=dot; then
    failed=1
    echo "fuzz: round $rounds failed; reproduce with FUZZ_SEED=$seed FUZZ_RUNS=$FUZZ_RUNS npx vitest run fuzz.test"
    break
  fi
  seed=$((seed + 1))
done
cases=$(awk '{ sum += $1 } END { print sum + 0 }' "$count_file")
echo "fuzz: $cases cases in $rounds rounds over $((SECONDS - start)) s, $([ "$failed" = 1 ] && echo 'a failure (above)' || echo 'no failures')"
exit "$failed"
