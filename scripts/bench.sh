#!/usr/bin/env bash
# `npm run bench [-- --quick] [-- --runs N] [-- --json-out PATH]`: builds the Node bundle of the
# benchmark (a Vite SSR build, so the `?raw` WGSL imports resolve) and runs it on the WebGPU adapter
# Dawn finds. On a machine without a GPU that is Chromium's SwiftShader, which runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
# ensure_node_modules: `npm ci` when node_modules is missing or older than package-lock.json.
# use_cpu_webgpu: VK_ICD_FILENAMES → Chromium's SwiftShader ICD when unset, the file exists and no
# NVIDIA driver is installed; XDG_RUNTIME_DIR → /tmp when unset.
source scripts/setup.sh
ensure_node_modules
use_cpu_webgpu

npx --no-install vite build --config vite.node.config.ts --logLevel warn
exec node dist-node/bench.js "$@"
