#!/usr/bin/env bash
# `npm run results:prune`: builds the CLI and reproduces docs/results/pruning-table.md (see
# scripts/prune-results.mjs for the protocol and the settings it reads from the environment).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules >&2
use_cpu_webgpu
npx --no-install vite build --config vite.node.config.ts --logLevel warn >&2
exec node scripts/prune-results.mjs
