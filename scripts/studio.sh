#!/usr/bin/env bash
# Builds the studio and serves it on http://localhost:4173. Nothing is needed on the machine but
# Node 20 and a browser with WebGPU.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
ensure_node_modules
npx vite build
echo
echo "Compression Studio: open http://localhost:4173 in a browser with WebGPU (Chrome, Edge, Safari 26+)."
exec npx vite preview --port 4173 --strictPort "$@"
