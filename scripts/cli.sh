#!/usr/bin/env bash
# `npm run cli -- <command> [options]`: builds the Node bundle of the CLI (a Vite SSR build, so the
# `?raw` WGSL imports resolve) and runs it on the WebGPU adapter Dawn finds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules >&2
use_cpu_webgpu
npx --no-install vite build --config vite.node.config.ts --logLevel warn >&2
exec node dist-node/cli.js "$@"
