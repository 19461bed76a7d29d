#!/usr/bin/env bash
# Every test: types, lint, the Node rig (Vitest: engine and kernels on Dawn's WebGPU) and the
# browser rig (Playwright driving Debian's Chromium headless with WebGPU on).
#
# Laid out for a 2-core machine. Vitest's two forks leave part of a core idle, so what needs little
# CPU runs beside it: the type check, the linter, one build of the site and of the CLI's bundle (which
# Playwright then reuses, E2E_BUILT=1), and the browser specs that run no evaluation, pruning or
# training (the config's no-webgpu and webgpu-light projects). The webgpu project, whose SwiftShader
# work keeps both cores busy, runs alone afterwards. The background steps' output is printed once
# Vitest is done (docs/testing.md, "What runs beside Vitest").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_system_packages
ensure_node_modules
use_cpu_webgpu

rm -rf test-results/logs
mkdir -p test-results/logs
names=()
pids=()
# Whatever still runs when this script stops early (Ctrl-C, a failed step) is stopped with it: each
# background step is its own process group (setsid), so its children go too.
trap 'for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done' EXIT

# beside NAME COMMAND...: runs COMMAND in the background, its output in test-results/logs/NAME.log.
beside() {
  local name=$1
  shift
  setsid "$@" >"test-results/logs/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
}

beside types npx tsc --noEmit
beside lint npx biome check .
# The site for the browser specs, the CLI's bundle for those that compare the page with it, then
# the light specs against that site.
beside e2e-light bash -c 'npx vite build --logLevel warn &&
  npx vite build --config vite.node.config.ts --logLevel warn &&
  E2E_BUILT=1 E2E_PASS=light npx playwright test --project=no-webgpu --project=webgpu-light'

vitest_status=0
npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json || vitest_status=$?

failed=()
for i in "${!pids[@]}"; do
  status=0
  wait "${pids[$i]}" || status=$?
  echo "── ${names[$i]} (exit $status) ──"
  cat "test-results/logs/${names[$i]}.log"
  [ "$status" -eq 0 ] || failed+=("${names[$i]}")
done
pids=()
[ "$vitest_status" -eq 0 ] || failed+=(vitest)
if [ ${#failed[@]} -gt 0 ]; then
  echo "Failed: ${failed[*]}" >&2
  exit 1
fi

E2E_BUILT=1 npx playwright test --project=webgpu
node scripts/summary.mjs test-results/vitest.json test-results/playwright-light.json test-results/playwright.json
