# Sourced by the other scripts: makes sure what the project needs is installed, then exports the
# environment the Node WebGPU rig needs. On a fresh Debian machine it installs Chromium (the browser
# the end-to-end tests drive, and whose SwiftShader Vulkan driver lets Dawn run WGSL on the CPU)
# and the Vulkan loader, then the npm packages from package-lock.json.

ensure_system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || missing+=(libvulkan1)
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=''
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then sudo='sudo'; else
      echo "Missing Debian packages: ${missing[*]}. Install them as root: apt-get install -y ${missing[*]}" >&2
      return 1
    fi
  fi
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_node_modules() {
  # Reinstall when package-lock.json changed since the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "Installing npm packages (npm ci)"
    npm ci --no-audit --no-fund
  fi
}

use_cpu_webgpu() {
  # Dawn (Node) finds a Vulkan driver through the loader; on a machine without a GPU, Chromium's
  # SwiftShader is the one Dawn accepts. A machine with a GPU driver keeps its own.
  if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] &&
    ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json
  fi
  export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
}
