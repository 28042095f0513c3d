#!/usr/bin/env bash
# Installs the Debian packages Maestro needs to build, test and run.
# Idempotent: packages already present are left alone; nothing is downloaded
# from anywhere but Debian's own archive.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang
  ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1 pocl-opencl-icd clinfo
  libhwloc-dev hwloc
  libcunit1-dev
  libncurses-dev
  libopenmpi-dev openmpi-bin
  python3 tmux valgrind util-linux
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: every package is already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
