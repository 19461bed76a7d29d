#!/usr/bin/env bash
# Every test: types, lint, the Node rig (Vitest: engine and kernels on Dawn's WebGPU) and the
# browser rig (Playwright driving Debian's Chromium headless with WebGPU on).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_system_packages
ensure_node_modules
use_cpu_webgpu

mkdir -p test-results
npx tsc --noEmit
npx biome check .
npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json
npx playwright test
node scripts/summary.mjs test-results/vitest.json test-results/playwright.json
