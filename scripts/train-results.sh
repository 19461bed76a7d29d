#!/usr/bin/env bash
# `npm run results:train`: builds the CLI and reproduces docs/results/training-table.md (see
# scripts/train-results.mjs for the protocol and the settings it reads from the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules >&2
use_cpu_webgpu
npx --no-install vite build --config vite.node.config.ts --logLevel warn >&2
exec node scripts/train-results.mjs
