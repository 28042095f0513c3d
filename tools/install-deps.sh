#!/usr/bin/env bash
# Installs the Debian 12 packages Maestro needs to build, test, lint and run.
# Idempotent: when every package is already installed it does nothing (no
# apt-get update either). Nothing is downloaded from anywhere but the
# machine's configured Debian archive. Runs as root, or through sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang           # C11 toolchains (gcc and clang), CMake >= 3.25
  libclang-rt-14-dev                               # clang's libFuzzer (tests/fuzz, tools/fuzz.sh)
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 # OpenCL ICD loader and headers
  pocl-opencl-icd clinfo                           # PoCL: the OpenCL CPU device used by default
  libhwloc-dev hwloc                               # topology and binding
  libcunit1-dev                                    # unit tests
  libncurses-dev                                   # maestro-top
  libopenmpi-dev openmpi-bin                       # runtime/backend/mpi: graphs across ranks (built when found)
  python3 util-linux                               # test helpers (json, taskset)
  clang-format clang-tidy cppcheck                 # tools/lint.sh
  tmux valgrind
  libclblast-dev libclfft-dev                      # OpenCL libraries called from agents (examples, optional)
  # Library agents (MAESTRO_BUNDLED_LIB_*, cmake/libs.cmake; each optional at build time):
  # CLBlast and clFFT above on the device, these on the CPU.
  libopenblas-dev libfftw3-dev
)

installed() {
  local s
  s=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)
  [ "$s" = "install ok installed" ]
}

# Optional (issue 9): StarPU, for bench/placement_starpu (built only when
# found). Tried on its own; where it does not install, nothing fails.
optional=(libstarpu-dev)
for p in "${optional[@]}"; do
  installed "$p" && continue
  osudo=()
  if [ "$(id -u)" -ne 0 ]; then osudo=(sudo); fi
  echo "install-deps: trying optional $p"
  if ! { DEBIAN_FRONTEND=noninteractive "${osudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${osudo[@]}" apt-get install -y -qq --no-install-recommends "$p" </dev/null; }; then
    echo "install-deps: optional $p not installed (bench/placement_starpu is skipped)"
  fi
done

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: every package is already installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
