#!/usr/bin/env bash
# The benchmark on a machine that has a GPU but nothing else of ours: no Node, no Vulkan loader, no
# network. Two steps (bench/README.md, "Device benchmark"):
#
#   scripts/device-bench.sh pack
#       Here, with npm and apt reachable: builds the Node bundle and gathers into .device/ (ignored)
#       everything the other machine needs: Node, Dawn's addon, the bundle (one .tar.xz), and the
#       Vulkan loader's Debian packages. Fails if .device/ and the working tree would not fit the
#       device tool's 64 MiB.
#
#   scripts/device-bench.sh run [--out DIR] [--quick | --full] [--budget SECONDS] [--only LIST]
#       There (and here): unpacks into /tmp, installs the loader if the system has none, picks the
#       Vulkan driver (NVIDIA's if present, else Chromium's SwiftShader), runs our benchmark through
#       the bundle, times the same products in PyTorch (bench/torch_matmul.py: float32 with TF32 off,
#       and bfloat16; CUDA if PyTorch sees a GPU, else the CPU), and merges all into DIR/device-bench.json
#       (DIR: --out, else $OUT, else bench/results), printing our GFLOP/s as a fraction of PyTorch's.
#       Every stage runs under a timeout cut from one budget (default 450 s), so the run ends within
#       8 minutes even if a stage hangs; a failed or timed-out stage is recorded in the JSON.
#       Default mode: full on a GPU driver, --quick on SwiftShader. --only: the sections to run,
#       comma-separated (default all: kernels,sparse,forward,prune,train,generate,blocks); PyTorch's
#       products run only with kernels, whose products they time.
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PACK=$REPO/.device
ARCHIVE=$PACK/device-bench.tar.xz
SWIFTSHADER_ICD=/usr/lib/chromium/vk_swiftshader_icd.json
NVIDIA_ICDS=(/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json
  /etc/vulkan/icd.d/nvidia_icd.json)
# The device tool carries at most 64 MiB (working tree included); leave room for the report's files.
CARRY_LIMIT=$((60 * 1024 * 1024))
# What NVIDIA's Vulkan driver needs beside the loader (libGLX_nvidia links libGLdispatch from glvnd);
# the set the device tool's notes name as proven on those machines.
DEBS=(libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2)

die() {
  echo "device-bench: $*" >&2
  exit 1
}

# ---------------------------------------------------------------------------------------------- pack

pack() {
  # No `npm ci` here (scripts/setup.sh would run it when package-lock.json is newer): in a git
  # worktree node_modules may be another checkout's, and reinstalling it would pull it from under them.
  [ -f node_modules/webgpu/package.json ] && [ -x node_modules/.bin/vite ] ||
    die "node_modules is missing or incomplete: run npm ci first"
  local node_bin stage
  node_bin=$(readlink -f "$(command -v node)") || die "no node on PATH"
  [ "$(uname -m)" = x86_64 ] || die "pack on x86-64: the device machine runs this Node and Dawn build"
  stage=$(mktemp -d /tmp/device-bench-pack.XXXXXX)
  trap 'rm -rf "$stage"' RETURN

  echo "Building the Node bundle"
  npx --no-install vite build --config vite.node.config.ts --logLevel warn --outDir "$stage/app/dist-node" ||
    die "vite build failed"
  rm -f "$stage"/app/dist-node/*.map "$stage"/app/dist-node/chunks/*.map
  local wg=node_modules/webgpu
  mkdir -p "$stage/app/node_modules/webgpu/dist/linux-x64"
  cp "$wg/package.json" "$wg/index.js" "$wg/LICENSE.md" "$stage/app/node_modules/webgpu/"
  cp "$wg/dist/linux-x64/dawn.node" "$stage/app/node_modules/webgpu/dist/linux-x64/"
  cp package.json "$stage/app/"
  # The bundle leaves npm packages external (Vite's SSR default): copy the ones it imports, with what
  # they depend on, or the bench dies at its first import there.
  node -e '
    const fs = require("node:fs");
    const path = require("node:path");
    const [dist, to] = process.argv.slice(1);
    const files = [dist, path.join(dist, "chunks")].flatMap((d) =>
      fs.readdirSync(d).filter((f) => f.endsWith(".js")).map((f) => path.join(d, f)));
    const wanted = new Set();
    for (const f of files)
      for (const [, spec] of fs.readFileSync(f, "utf8").matchAll(/^(?:import|export)\b[^\n]*?\bfrom\s*"([^".][^"]*)"/gm)) {
        if (spec.startsWith("node:") || spec === "webgpu") continue;
        wanted.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]);
      }
    const copied = [];
    const copy = (name) => {
      if (copied.includes(name)) return;
      const from = path.join("node_modules", name);
      if (!fs.existsSync(path.join(from, "package.json"))) throw new Error(`node_modules/${name} is missing`);
      fs.cpSync(from, path.join(to, "node_modules", name), { recursive: true });
      copied.push(name);
      const pkg = JSON.parse(fs.readFileSync(path.join(from, "package.json"), "utf8"));
      for (const dep of Object.keys(pkg.dependencies ?? {})) copy(dep);
    };
    for (const name of wanted) copy(name);
    console.log(`Packages the bundle imports: ${copied.join(", ")}`);
  ' "$stage/app/dist-node" "$stage/app" || die "copying the bundle's packages failed"
  cp "$node_bin" "$stage/node"

  mkdir -p "$PACK"
  rm -rf "$PACK/debs" "$ARCHIVE"
  mkdir -p "$PACK/debs"
  echo "Compressing Node ($(du -h "$node_bin" | cut -f1)) and Dawn ($(du -h "$wg/dist/linux-x64/dawn.node" | cut -f1)) with xz -9 (a minute or two)"
  tar -C "$stage" -cf - node app | xz -9 -T1 >"$ARCHIVE" || die "compressing failed"

  echo "Downloading the Vulkan loader's Debian packages: ${DEBS[*]}"
  local apt=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
  if [ "$(dpkg --print-architecture)" != amd64 ]; then
    mkdir -p /tmp/amd64/partial
    apt+=(-oDir::State::Lists=/tmp/amd64)
    apt-get "${apt[@]}" update -qq || die "apt-get update for amd64 failed"
  fi
  (cd "$PACK/debs" && apt-get "${apt[@]}" download "${DEBS[@]}") || die "apt-get download failed"

  local tree pack_bytes
  pack_bytes=$(du -cb "$PACK" | tail -1 | cut -f1)
  # What the device tool sends besides carried paths: tracked files and untracked ones not ignored.
  tree=$({ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null |
    tail -1 | cut -f1)
  NODE_BIN=$node_bin PACK_BYTES=$pack_bytes TREE_BYTES=$tree \
    GIT=$(git describe --always --dirty 2>/dev/null || echo unknown) \
    node -e '
      const fs = require("node:fs");
      const wg = JSON.parse(fs.readFileSync("node_modules/webgpu/package.json", "utf8"));
      const e = process.env;
      const manifest = {
        packedAt: new Date().toISOString(),
        git: e.GIT,
        node: process.version,
        nodeBinary: e.NODE_BIN,
        nodeBytes: fs.statSync(e.NODE_BIN).size,
        webgpu: wg.version,
        archiveBytes: fs.statSync(".device/device-bench.tar.xz").size,
        debs: fs.readdirSync(".device/debs"),
        packBytes: Number(e.PACK_BYTES),
        workingTreeBytes: Number(e.TREE_BYTES),
      };
      fs.writeFileSync(".device/manifest.json", JSON.stringify(manifest, null, 2) + "\n");
    ' || die "writing the manifest failed"
  local mib=$((1024 * 1024))
  echo "Packed .device/: $((pack_bytes / mib)) MiB (archive $(($(stat -c %s "$ARCHIVE") / mib)) MiB);" \
    "working tree $((tree / mib)) MiB; together $(((pack_bytes + tree) / mib)) MiB of the 64 MiB carry"
  [ $((pack_bytes + tree)) -le $CARRY_LIMIT ] ||
    die "too big for the device tool: keep .device/ plus the working tree under $((CARRY_LIMIT / mib)) MiB"
}

# ----------------------------------------------------------------------------------------------- run

# Seconds left of the run's budget.
left() { echo $((DEADLINE - $(date +%s))); }

# stage NAME SECONDS COMMAND...: runs COMMAND under a timeout, its output to the console and to
# WORK/NAME.log, and appends "NAME<TAB>exit status<TAB>seconds<TAB>limit" to WORK/stages.tsv.
stage() {
  local name=$1 limit=$2 start rc
  shift 2
  if [ "$limit" -lt 5 ]; then
    echo "== $name: skipped, the budget is spent"
    printf '%s\t%s\t%s\t%s\n' "$name" skipped 0 "$limit" >>"$WORK/stages.tsv"
    return 1
  fi
  echo "== $name (at most ${limit} s), from $(date -u +%H:%M:%S) UTC"
  start=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee "$WORK/$name.log"
  rc=${PIPESTATUS[0]}
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" $(($(date +%s) - start)) "$limit" >>"$WORK/stages.tsv"
  [ "$rc" -eq 124 ] && echo "== $name timed out after ${limit} s"
  return "$rc"
}

# xz archive → folder, with xz if the machine has it, else Python's lzma.
unpack_archive() {
  if command -v xz >/dev/null; then
    xz -dc "$ARCHIVE" | tar -x -C "$1"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$ARCHIVE" "$1"
  fi
}

install_loader() {
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
    echo "Vulkan loader: the system's"
    LOADER=system
    return 0
  fi
  ls "$PACK"/debs/*.deb >/dev/null 2>&1 || die "no Vulkan loader here and none packed: run pack first"
  if [ "$(id -u)" -eq 0 ]; then
    # The device tool's notes: these packages unpack safely over / there, then ldconfig.
    for f in "$PACK"/debs/*.deb; do dpkg -x "$f" / || return 1; done
    ldconfig
    LOADER="carried, unpacked over /"
  else
    for f in "$PACK"/debs/*.deb; do dpkg -x "$f" "$WORK/root" || return 1; done
    export LD_LIBRARY_PATH=$WORK/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    LOADER="carried, in $WORK/root"
  fi
  echo "Vulkan loader: $LOADER"
}

pick_driver() {
  local icd
  for icd in "${NVIDIA_ICDS[@]}"; do
    if [ -f "$icd" ]; then
      export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
      DRIVER=nvidia
      # NVIDIA's ICD names its library without a path; the mounted driver folder may not be in ld.so.conf.
      for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
        [ -d "$d" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d
      done
      return 0
    fi
  done
  [ -f "$SWIFTSHADER_ICD" ] || die "no NVIDIA Vulkan driver and no SwiftShader ($SWIFTSHADER_ICD)"
  export VK_ICD_FILENAMES=$SWIFTSHADER_ICD VK_DRIVER_FILES=$SWIFTSHADER_ICD
  DRIVER=swiftshader
}

# The Python that has PyTorch: $DEVICE_BENCH_PYTHON, else the first of these that imports torch.
find_python() {
  local p
  for p in ${DEVICE_BENCH_PYTHON:-} python3 /usr/bin/python3 /opt/torch/.venv/bin/python3; do
    if command -v "$p" >/dev/null && timeout 60 "$p" -c 'import torch' 2>/dev/null; then
      PYTHON=$(command -v "$p")
      return 0
    fi
  done
  return 1
}

# The report when Node cannot merge it (it never ran): the stages and the reason, via Python.
fallback_report() {
  local py
  py=$(command -v python3 || true)
  if [ -n "$py" ]; then
    "$py" - "$WORK/stages.tsv" "$REPORT" "$1" <<'EOF'
import json, sys
stages = [dict(zip(("name", "status", "seconds", "limit"), line.rstrip("\n").split("\t")))
          for line in open(sys.argv[1])]
json.dump({"schema": 1, "kind": "device-bench", "error": sys.argv[3], "stages": stages},
          open(sys.argv[2], "w"), indent=2)
EOF
  else
    printf '{"schema": 1, "kind": "device-bench", "error": "%s"}\n' "$1" >"$REPORT"
  fi
  echo "device-bench: $1; report: $REPORT" >&2
}

run() {
  local out="" mode="" budget=${DEVICE_BENCH_BUDGET:-450} only=kernels,sparse,forward,prune,train,generate,blocks
  while [ $# -gt 0 ]; do
    case $1 in
      --out) out=${2:?--out needs a folder}; shift 2 ;;
      --out=*) out=${1#--out=}; shift ;;
      --quick) mode=quick; shift ;;
      --full) mode=full; shift ;;
      --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
      --only) only=${2:?--only needs a list of sections}; shift 2 ;;
      *) die "unknown option $1 (run [--out DIR] [--quick | --full] [--budget SECONDS] [--only LIST])" ;;
    esac
  done
  local sections i extra
  IFS=, read -r -a sections <<<"$only"
  for i in "${sections[@]}"; do
    case $i in
      kernels | sparse | forward | prune | train | generate | blocks) ;;
      *) die "--only: unknown section \"$i\" (kernels, sparse, forward, prune, train, generate, blocks)" ;;
    esac
  done
  START=$(date +%s)
  DEADLINE=$((START + budget))
  out=${out:-${OUT:-$REPO/bench/results}}
  mkdir -p "$out"
  REPORT=$(cd "$out" && pwd)/device-bench.json
  WORK=$(mktemp -d /tmp/device-bench.XXXXXX)
  : >"$WORK/stages.tsv"
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  [ -f "$ARCHIVE" ] || { fallback_report "no $ARCHIVE: run scripts/device-bench.sh pack first"; return 1; }

  # Not under stage(): timeout cannot run a shell function, and unpacking cannot hang.
  local t0=$(date +%s) rc
  echo "== unpack"
  unpack_archive "$WORK"
  rc=$?
  printf '%s\t%s\t%s\t%s\n' unpack "$rc" $(($(date +%s) - t0)) 0 >>"$WORK/stages.tsv"
  if [ "$rc" -ne 0 ]; then
    fallback_report "unpacking $ARCHIVE failed"
    return 1
  fi
  # The bench finds the project's files (public/: the built-in model) from the bundle's package.json.
  ln -s "$REPO/public" "$WORK/app/public"
  local node=$WORK/node
  LOADER=none
  install_loader || echo "device-bench: installing the Vulkan loader failed" >&2
  pick_driver
  [ -n "$mode" ] || { [ "$DRIVER" = nvidia ] && mode=full || mode=quick; }
  local quick=()
  [ "$mode" = quick ] && quick=(--quick)
  echo "Driver: $DRIVER ($VK_ICD_FILENAMES), mode: $mode, node $("$node" --version 2>&1), budget ${budget} s"

  # The GPU's clocks, power and load twice a second for the whole run, into gpu-clocks.csv beside the
  # report (stage starts are in the log, in UTC): the H200 runs of 2026-12-04 showed a preset's later
  # training arms running the same kernels up to 4x faster, and nothing had recorded the clocks.
  local sampler=""
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu,power.draw,temperature.gpu,pstate \
      --format=csv -lms 500 >"$(dirname "$REPORT")/gpu-clocks.csv" 2>/dev/null &
    sampler=$!
  fi

  # Kernels first: the products PyTorch is compared on. Then PyTorch, then the other sections with
  # what is left, each its own process so one that hangs costs only itself.
  local bench=("$node" "$WORK/app/dist-node/bench.js")
  local reserve=90 # PyTorch's share of the budget, plus the merge
  PYTHON=""
  if [[ ",$only," == *,kernels,* ]]; then
    stage kernels $(($(left) - reserve)) "${bench[@]}" "${quick[@]}" --only kernels \
      --json-out "$WORK/bench-kernels.json"
    find_python || echo "device-bench: no Python with PyTorch found" >&2
  fi
  if [ -n "$PYTHON" ] && [ -f "$WORK/bench-kernels.json" ]; then
    local t=$(($(left) - 20 > 120 ? 120 : $(left) - 20))
    stage torch "$t" env PYTHONUNBUFFERED=1 "$PYTHON" bench/torch_matmul.py \
      --bench "$WORK/bench-kernels.json" --out "$WORK/torch.json" --budget $((t > 30 ? t - 25 : 5))
  elif [[ ",$only," != *,kernels,* ]]; then
    printf '%s\t%s\t%s\t%s\n' torch "skipped: it times the kernels stage's products, which did not run" 0 0 \
      >>"$WORK/stages.tsv"
  else
    printf '%s\t%s\t%s\t%s\n' torch "skipped: ${PYTHON:-no python with torch}, kernels report: $([ -f "$WORK/bench-kernels.json" ] && echo yes || echo no)" 0 0 >>"$WORK/stages.tsv"
  fi
  # An equal share of what is left for each section still to run, so one that hangs leaves the rest
  # their time (on a GPU each takes seconds).
  # On a GPU the prune section also factors LLaMA-7B's widths (4096, 11008), which would take hours
  # on SwiftShader.
  local rest=() s
  for s in "${sections[@]}"; do [ "$s" = kernels ] || rest+=("$s"); done
  for i in "${!rest[@]}"; do
    extra=()
    [ "${rest[$i]}" = prune ] && [ "$mode" = full ] && extra=(--sparsegpt-wide)
    stage "${rest[$i]}" $((($(left) - 20) / (${#rest[@]} - i))) "${bench[@]}" "${quick[@]}" \
      --only "${rest[$i]}" "${extra[@]}" --json-out "$WORK/bench-${rest[$i]}.json"
  done

  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
  local ldconfig_vk nvsmi
  ldconfig_vk=$(ldconfig -p 2>/dev/null | grep -E 'libvulkan|libGLX_nvidia|libGLdispatch' || true)
  nvsmi=$(nvidia-smi -L 2>/dev/null || true)
  if ! DEVICE_BENCH_MODE=$mode DEVICE_BENCH_DRIVER=$DRIVER DEVICE_BENCH_LOADER=$LOADER \
    DEVICE_BENCH_STARTED=$START DEVICE_BENCH_BUDGET=$budget DEVICE_BENCH_PYTHON_USED=$PYTHON \
    DEVICE_BENCH_LDCONFIG=$ldconfig_vk DEVICE_BENCH_NVIDIA_SMI=$nvsmi \
    timeout -k 5 30 "$node" "$WORK/app/dist-node/device-report.js" --work "$WORK" \
    --manifest "$PACK/manifest.json" --out "$REPORT"; then
    fallback_report "merging the report failed (see the log above)"
    return 1
  fi
  echo "Took $(($(date +%s) - START)) s. Work files: $WORK"
}

case ${1:-} in
  pack) pack ;;
  run) shift; run "$@" ;;
  *) die "usage: scripts/device-bench.sh pack | run [--out DIR] [--quick | --full] [--budget SECONDS] [--only LIST]" ;;
esac
