#!/usr/bin/env bash
# README command 1: installs the Debian packages, configures and builds the
# default preset, then runs the demo on the default places (every core this
# process may use, every OpenCL device, PoCL's CPU device included):
# examples/image_pipeline (maestro-info if examples are not built, e.g.
# with -DMAESTRO_BUILD_EXAMPLES=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/install-deps.sh
cmake --preset default
cmake --build --preset default -j"$(nproc)"

build=build/default
demo=$(find "$build/examples" -maxdepth 2 -type f -perm -u+x -name 'image_pipeline*' 2>/dev/null | head -n 1)
if [ -n "$demo" ]; then
  echo "== demo: $demo (CPU and OpenCL agents) =="
  exec "$demo" "$@"
fi
echo "== demo: maestro-info (the image-pipeline example is not built) =="
exec "$build/tools/maestro-info" "$@"
