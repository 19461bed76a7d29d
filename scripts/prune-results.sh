#!/usr/bin/env bash
# `npm run results:prune` and `npm run results:sweep`: builds the CLI and runs one results script
# (scripts/prune-results.mjs by default, or the one named: prune-sweep), which reproduces its table
# of docs/results/pruning.md; the protocol and the settings it reads from the environment are in
# the script's header.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules >&2
use_cpu_webgpu
npx --no-install vite build --config vite.node.config.ts --logLevel warn >&2
exec node "scripts/${1:-prune-results}.mjs"
