#!/usr/bin/env bash
# README command 2 (and what .ci/run runs): installs the Debian packages if
# needed, configures the default preset (warnings are errors), builds, and
# runs the whole test suite through ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
cmake --preset default
cmake --build --preset default -j"$(nproc)"
# Serial on purpose: some tests watch every Maestro process of this user
# (maestro-top without -p), and the whole suite takes well under a minute.
# Extra arguments go to ctest (e.g. -j4, -R foundation).
ctest --preset default "$@"
